// `procactor validate` on real graphs, with the plugins loaded. The exact
// wording of each diagnostic is pinned by tests/launcher/golden; here only
// the contract a user (or an editor) relies on: the exit code and the
// file:line:col prefix.
#include <doctest/doctest.h>

#include <regex>

#include "harness.hpp"

namespace cli {

TEST_CASE("validate accepts the example graphs" * doctest::timeout(110)) {
  sandbox box;
  for (const std::string example : {"primes", "wordcount", "crashy", "primes-cluster"}) {
    CAPTURE(example);
    const result r = box.procactor({"validate", test_graph("example_" + example + ".toml").string()});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out.find(": ok (3 actors, 2 routes)") != std::string::npos);
    CHECK(r.err.empty());
    // The files themselves, from whatever build directory this is.
    const result original =
        box.procactor({"validate", std::string(PROCACTOR_CLI_EXAMPLES_DIR) + "/" + example + ".toml"});
    CHECK_MESSAGE(original.exit_code == 0, original.err);
  }
}

TEST_CASE("validate reports a broken file at file:line:col and exits 2" * doctest::timeout(50)) {
  sandbox box;
  const std::string file = source_graph("broken.toml").string();
  const result r = box.procactor({"validate", file});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  // Every error at once, in file order.
  CHECK_MESSAGE(r.err.starts_with(file + ":1:1: error: the graph has no actors"), r.err);
  CHECK_MESSAGE(r.err.find("\n" + file + ":6:1: error: unknown key 'nmae'") != std::string::npos, r.err);
  // Every diagnostic line starts the same way: editors jump to each one.
  const std::regex positioned(R"(^.+:[0-9]+:[0-9]+: error: .+$)");
  for (const auto& line : lines_of(r.err)) {
    if (line.starts_with(file)) CHECK_MESSAGE(std::regex_match(line, positioned), line);
  }
}

}  // namespace cli
