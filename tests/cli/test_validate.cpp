// `procactor validate` on real graphs, with the plugins loaded. The exact
// wording of each diagnostic is pinned by tests/launcher/golden; here only
// the contract a user (or an editor) relies on: the exit code and the
// file:line:col prefix.
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>

#include "harness.hpp"

namespace cli {

TEST_CASE("validate accepts the example graphs" * doctest::timeout(110)) {
  sandbox box;
  for (const std::string example : {"primes", "wordcount", "crashy", "primes-cluster"}) {
    CAPTURE(example);
    const result r = box.procactor({"validate", test_graph("example_" + example + ".toml").string()});
#ifndef PROCACTOR_CLI_WITH_MPI
    // On two nodes: refused without MPI, as launch refuses it (test_launch.cpp).
    if (example == "primes-cluster") {
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(r.err.find("this procactor was built without MPI") != std::string::npos, r.err);
      continue;
    }
#endif
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out.find(": ok (3 actors, 2 routes)") != std::string::npos);
    CHECK(r.err.empty());
    // The files themselves, from whatever build directory this is.
    const result original =
        box.procactor({"validate", std::string(PROCACTOR_CLI_EXAMPLES_DIR) + "/" + example + ".toml"});
    CHECK_MESSAGE(original.exit_code == 0, original.err);
  }
}

TEST_CASE("validate works with a 64 KiB stack" * doctest::timeout(110)) {
  sandbox box;
  // The file was once read through a 64 KiB buffer on the stack: SIGSEGV.
  const fs::path minimal = box.write("minimal.toml", "version = 1\n");
  for (const fs::path& graph : {minimal, test_graph("example_primes.toml")}) {
    CAPTURE(graph);
    const result r = box.program(
        {"/bin/sh", "-c", "ulimit -s 64 && exec \"$0\" validate \"$1\"", procactor_binary().string(), graph.string()});
    CHECK_MESSAGE(r.exit_code == (graph == minimal ? 2 : 0), r.out, r.err);
    CHECK(r.err.find("Segmentation") == std::string::npos);
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

// What a new user's mistakes get with the plugins loaded: one error each,
// at its place, and nothing started.
TEST_CASE("validate of a file that never ends or is not a file says why and exits 2" * doctest::timeout(50)) {
  sandbox box;
  // /dev/zero was read for ever, its memory growing.
  const result endless = box.procactor({"validate", "/dev/zero"});
  CHECK(endless.exit_code == 2);
  CHECK_MESSAGE(endless.err.find("/dev/zero: error: cannot read graph file: it holds more than 16 MiB") !=
                    std::string::npos,
                endless.err);
  const result directory = box.procactor({"validate", box.dir().string()});
  CHECK(directory.exit_code == 2);
  CHECK_MESSAGE(directory.err.find("cannot read graph file: it is a directory") != std::string::npos, directory.err);
  const result missing = box.procactor({"validate", (box.dir() / "no-such.toml").string()});
  CHECK(missing.exit_code == 2);
  CHECK_MESSAGE(missing.err.find("cannot read graph file: No such file or directory") != std::string::npos,
                missing.err);
}

TEST_CASE("validate with the plugins loaded names each problem once at its place" * doctest::timeout(110)) {
  sandbox box;
  const std::string plugin = PROCACTOR_CLI_EXAMPLES_PLUGIN;
  const std::string head = "version = 1\n[graph]\nname = \"mistakes\"\nplugins = [\"" + plugin + "\"]\n";

  SUBCASE("an actor without a type, or with one that is not a string") {
    const fs::path file = box.write("untyped.toml", head + "[actors.x]\nreplicas = 1\n[actors.y]\ntype = 5\n");
    const result r = box.procactor({"validate", file.string()});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(file.string() + ":5:9: error: actor 'x' has no 'type'") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(file.string() + ":8:8: error: 'type' in [actors.y] must be a string") != std::string::npos,
                  r.err);
    // Nothing more: no "unknown actor type ''" without a place.
    const std::vector<std::string> lines = lines_of(r.err);
    const auto errors = std::count_if(lines.begin(), lines.end(),
                                      [](const std::string& line) { return line.find(" error: ") != std::string::npos; });
    CHECK_MESSAGE(errors == 2, r.err);
  }

  SUBCASE("a plugin that is a directory") {
    fs::create_directory(box.dir() / "plugins");
    const fs::path file = box.write("directory.toml", "version = 1\n[graph]\nplugins = [\"plugins\"]\n"
                                                      "[actors.x]\ntype = \"examples.Sum\"\n");
    const result r = box.procactor({"validate", file.string()});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(":3:12: error: plugin 'plugins' is a directory (") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("), not a plugin file; name the .so file in it") != std::string::npos, r.err);
  }

  SUBCASE("mailboxes that could outgrow what a run maps") {
    const fs::path file = box.write("huge.toml", head +
                                                     "[actors.source]\ntype = \"examples.RangeSource\"\n"
                                                     "params = { from = 2, to = 2000, chunk = 100 }\n"
                                                     "[actors.worker]\ntype = \"examples.PrimeCounter\"\n"
                                                     "replicas = 2\nmailbox_capacity = \"1TiB\"\n"
                                                     "[[routes]]\nfrom = \"source\"\nto = \"worker\"\n");
    const std::string where = file.string() + ":11:20: error: the mailboxes of graph mistakes could grow to about ";
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"validate", file.string()}, {"launch", "--dry-run", file.string()},
          {"launch", file.string()}}) {
      CAPTURE(command.front());
      const result r = box.procactor(command);
      CHECK(r.exit_code == 2);
      CHECK(r.out.empty());
      CHECK_MESSAGE(r.err.starts_with(where), r.err);
      CHECK_MESSAGE(r.err.find("'worker' takes about ") != std::string::npos, r.err);
    }
    CHECK(descendants().empty());
  }

  SUBCASE("a binary file") {
    using namespace std::string_literals;
    const fs::path file = box.write("binary.toml", "\xC2hl\x0E\x8D\xAB\xE5)\x1A,6\x95\xC5\x85\x1B[31m\x00\x07"s);
    const result r = box.procactor({"validate", file.string()});
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.starts_with(file.string() + ":1:1: error: invalid TOML"), r.err);
    // The file's bytes are not echoed: the terminal gets text, not escapes.
    const bool printable = std::all_of(r.err.begin(), r.err.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte == '\n' || (byte >= 0x20 && byte < 0x7F);
    });
    CHECK_MESSAGE(printable, r.err);
  }
}

// Two plugins that define one actor type, or one message type in two ways:
// which code would run, or how the bytes would decode, would depend on the
// load order (an int64 read as a string). Refused at the second plugin,
// naming both files; by launch too, before anything starts.
TEST_CASE("validate refuses a plugin that registers a type again or defines a message another way" *
          doctest::timeout(50)) {
  sandbox box;
  const std::string actors = PROCACTOR_CLI_ACTORS_PLUGIN;
  const std::string clash = PROCACTOR_CLI_CLASH_PLUGIN;
  const fs::path file = box.write("clash.toml", "version = 1\n[graph]\nname = \"clash\"\nplugins = [\"" + actors +
                                                    "\", \"" + clash + "\"]\n[actors.x]\ntype = \"clitest.Relay\"\n");
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"validate", file.string()}, {"launch", file.string()}}) {
    CAPTURE(command.front());
    const result r = box.procactor(command);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find(file.string() + ":4:") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("cannot use plugin " + clash) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("actor type clitest.Relay is registered twice: by " + actors + " and by " + clash) !=
                      std::string::npos,
                  r.err);
    CHECK_MESSAGE(r.err.find("message type clitest::Tick is defined twice, differently: 8 bytes in " + actors +
                             ", 32 bytes in " + clash) != std::string::npos,
                  r.err);
  }
  // Alone, each is a plugin like any other.
  const fs::path alone = box.write("alone.toml", "version = 1\n[graph]\nname = \"alone\"\nplugins = [\"" + clash +
                                                     "\"]\n[actors.x]\ntype = \"clitest.Relay\"\n");
  const result r = box.procactor({"validate", alone.string()});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}

TEST_CASE("validate names a plugin whose static initialisation throws and exits 2" * doctest::timeout(50)) {
  sandbox box;
  const std::string plugin = PROCACTOR_CLI_THROWING_PLUGIN;
  const fs::path file = box.write("throwing.toml", "version = 1\n[graph]\nname = \"throwing\"\nplugins = [\"" +
                                                       plugin + "\"]\n[actors.x]\ntype = \"clitest.Relay\"\n");
  const result r = box.procactor({"validate", file.string()});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find("procactor: cannot load plugin " + plugin +
                           ": its static initialisation threw: clitest: the plugin's configuration is missing") !=
                    std::string::npos,
                r.err);
}

TEST_CASE("validate names a plugin that registers no actor type when a type the graph needs is unknown" *
          doctest::timeout(50)) {
  sandbox box;
  const std::string typeless = PROCACTOR_CLI_TYPELESS_PLUGIN;
  const std::string actors = PROCACTOR_CLI_ACTORS_PLUGIN;
  const fs::path file = box.write("typeless.toml", "version = 1\n[graph]\nname = \"typeless\"\nplugins = [\"" +
                                                       typeless + "\"]\n[actors.x]\ntype = \"clitest.Relay\"\n");
  const result r = box.procactor({"validate", file.string()});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find("unknown actor type 'clitest.Relay'") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("plugin '" + typeless + "' registers no actor type") != std::string::npos, r.err);
  // Beside a plugin that brings the type, it is a plugin like any other.
  const fs::path both = box.write("both.toml", "version = 1\n[graph]\nname = \"both\"\nplugins = [\"" + typeless +
                                                   "\", \"" + actors + "\"]\n[actors.x]\ntype = \"clitest.Relay\"\n");
  const result fine = box.procactor({"validate", both.string()});
  CHECK_MESSAGE(fine.exit_code == 0, fine.err);
}

}  // namespace cli
