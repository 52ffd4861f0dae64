// What a person at a terminal sees: launch's live status line (and its
// absence in a pipe), `help`, and a mistyped command.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"

namespace cli {
namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// How many messages the run's sink has handled, from `status --json`.
std::uint64_t sink_processed(sandbox& box) {
  const result status = box.procactor({"status", "--json"});
  if (status.exit_code != 0) return 0;
  const auto parsed = nlohmann::json::parse(status.out, nullptr, false);
  if (parsed.is_discarded()) return 0;
  for (const auto& row : parsed["actors"]) {
    if (row["name"] == "sink.0") return row["processed"].get<std::uint64_t>();
  }
  return 0;
}

}  // namespace

TEST_CASE("on a terminal launch keeps one live status line and clears it at the end" * doctest::timeout(300)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  const fs::path typescript = box.dir() / "typescript";
  // script(1) (util-linux) gives the launch a terminal, and writes what it
  // showed there; by its path: programs start without a PATH search here.
  auto launch = box.start_program(
      {"/usr/bin/script", "-qfec", procactor_binary().string() + " launch " + graph.string(), typescript.string()});
  // The status line comes a second after "ready" and again every second.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (read_text(typescript).find(" msg/s") == std::string::npos) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no status line: " << read_text(typescript));
    std::this_thread::sleep_for(100ms);
  }
  const result stop = box.procactor({"stop"});
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(launch->wait(120s) == 0);

  const std::string shown = read_text(typescript);
  CHECK(shown.find("procactor | ") != std::string::npos);
  CHECK(shown.find(" messages \xc2\xb7 ") != std::string::npos);
  CHECK(shown.find(" restarts \xc2\xb7 ") != std::string::npos);
  // Each line printed while it shows takes its place ("\r", clear to the
  // end of the line), and the last line of the run comes after it is gone.
  const auto last_line = shown.rfind("graph endless stopped");
  REQUIRE(last_line != std::string::npos);
  const auto clear = shown.rfind("\r\033[K", last_line);
  REQUIRE(clear != std::string::npos);
  CHECK(shown.rfind(" msg/s", last_line) < clear);
}

TEST_CASE("piped launch shows no status line" * doctest::timeout(300)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  auto launch = box.start({"launch", graph.string()});
  launch->wait_for_output("actors ready", 120s);
  // The source ticks every 10 ms: 300 messages at the sink take at least
  // 3 s of the run, past the first status line a terminal would have had.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (sink_processed(box) < 300) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(100ms);
  }
  const result stop = box.procactor({"stop"});
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(launch->wait(120s) == 0);
  CHECK(launch->out().find(" msg/s") == std::string::npos);
  CHECK(launch->out().find('\r') == std::string::npos);
}

TEST_CASE("help names every command and prints one command's usage" * doctest::timeout(60)) {
  sandbox box;
  const result all = box.procactor({"help"});
  CHECK(all.exit_code == 0);
  for (const char* command : {"validate", "launch", "dashboard", "status", "logs", "ls", "events", "stop", "restart",
                              "inspect", "kill", "graph"}) {
    CHECK_MESSAGE(all.out.find(command) != std::string::npos, command);
  }
  const result one = box.procactor({"help", "dashboard"});
  CHECK(one.exit_code == 0);
  CHECK(one.out.find("Usage: procactor dashboard") != std::string::npos);
  CHECK(one.out.find("--http") != std::string::npos);
}

TEST_CASE("a mistyped command is named with the nearest one and every command" * doctest::timeout(60)) {
  sandbox box;
  const result typo = box.procactor({"stauts"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("procactor: unknown command 'stauts' (did you mean 'status'?)") != std::string::npos);
  CHECK(typo.err.find("validate, launch") != std::string::npos);
  const result far = box.procactor({"frobnicate"});
  CHECK(far.exit_code == 2);
  CHECK(far.err.find("unknown command 'frobnicate'; the commands are") != std::string::npos);
  const result bad_help = box.procactor({"help", "lanch"});
  CHECK(bad_help.exit_code == 2);
  CHECK(bad_help.err.find("did you mean 'launch'?") != std::string::npos);
}

}  // namespace cli
