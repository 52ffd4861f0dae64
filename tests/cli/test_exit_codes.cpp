// The exit codes scripts rely on, as README.md documents them: 2 for a usage or config
// error, 3 for a run that does not exist. 0 and 1 are checked by the tests
// that launch graphs.
#include <doctest/doctest.h>

#include "harness.hpp"

namespace cli {

TEST_CASE("commands on a run that does not exist exit with code 3" * doctest::timeout(110)) {
  sandbox box;
  const std::vector<std::vector<std::string>> commands = {
      {"status", "no-such-run"},
      {"status", "no-such-run", "--json"},
      {"logs", "no-such-run"},
      {"logs", "no-such-run", "worker.0"},
      {"stop", "no-such-run"},
      {"restart", "no-such-run", "worker"},
      {"kill", "no-such-run", "worker.0", "--signal", "TERM"},
  };
  for (const auto& args : commands) {
    CAPTURE(args.front());
    const result r = box.procactor(args);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("no such run 'no-such-run'") != std::string::npos, r.err);
  }
  // Without a name, the latest run is meant: there is none.
  for (const std::string command : {"status", "stop"}) {
    CAPTURE(command);
    const result r = box.procactor({command});
    CHECK(r.exit_code == 3);
    CHECK_MESSAGE(r.err.find("no run is active") != std::string::npos, r.err);
  }
}

TEST_CASE("usage errors exit with code 2" * doctest::timeout(110)) {
  sandbox box;
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"frobnicate"},
      {"launch"},
      {"launch", "--detach", "--bogus", test_graph("primes_small.toml").string()},
      {"status", "--bogus"},
      {"logs"},
      {"kill", "some-run"},
      {"kill", "some-run", "worker.0", "--signal", "SIGNOPE"},
      {"stop", "--timeout", "soon"},
      {"launch", (box.dir() / "missing.toml").string()},
  };
  for (const auto& args : commands) {
    CAPTURE(args.size());
    CAPTURE(args.empty() ? std::string() : args.back());
    const result r = box.procactor(args);
    CHECK(r.exit_code == 2);
    CHECK(!r.err.empty());
  }
  // An option before the command that procactor does not have is named,
  // not taken for a missing command.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus"}, {"-V"}, {"--bogus", "ls"}, {"--color", "never", "--frob", "ls"}}) {
    const result r = box.procactor(args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.starts_with("procactor: unknown option '" + (args[0] == "--color" ? args[2] : args[0]) +
                                    "' (before the command: --help, --version, --color;"),
                  r.err);
  }
  // None of them started anything.
  CHECK(!fs::exists(box.runs_root()));
  CHECK(descendants().empty());
  CHECK(box.procactor({"--color", "never", "ls"}).exit_code == 0);
}

}  // namespace cli
