// The largest graph a run holds, near enough: a thousand actor processes
// start, answer `status`, stop in order and leave nothing behind.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "harness.hpp"

namespace cli {

TEST_CASE("a graph of 1000 instances launches and answers status and stops and leaves nothing" *
          doctest::timeout(1190)) {
  sandbox box;
  const fs::path graph = box.copy_graph("thousand.toml");
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 1000 actors ready in ", 900s);

  const result status = box.procactor({"status", "thousand", "--json"}, 300s);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  const auto parsed = nlohmann::json::parse(status.out, nullptr, false);
  REQUIRE(!parsed.is_discarded());
  REQUIRE(parsed["actors"].size() == 1000);
  std::set<std::string> names;
  std::vector<pid_t> pids;
  for (const auto& row : parsed["actors"]) {
    names.insert(row["name"].get<std::string>());
    if (row["pid"].get<int>() > 0) pids.push_back(row["pid"].get<pid_t>());
  }
  CHECK(names.size() == 1000);
  CHECK(names.count("worker.997") == 1);
  CHECK(actors_of(launch->pid()).size() == 1000);

  const result stop = box.procactor({"stop", "thousand"}, 900s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  const int code = launch->wait(300s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, launch->err());
  CHECK(out.find("procactor | graph thousand stopped after ") != std::string::npos);
  CHECK(out.find("sink.0 | total: ") != std::string::npos);
  CHECK(out.find("passed: stopping the rest") == std::string::npos);
  check_run_left_nothing(launch->pid(), pids);
}

}  // namespace cli
