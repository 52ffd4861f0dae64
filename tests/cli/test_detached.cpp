// A run in the background, managed by the other subcommands as a user
// would: launch --detach, status (table and JSON), kill, restart, logs,
// stop.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

const std::vector<std::string> instances = {"source.0", "worker.0", "worker.1", "sink.0"};

// The rows of `status RUN --json` by instance name; empty while the run
// does not answer.
std::map<std::string, json> status_rows(sandbox& box, const std::string& run) {
  const result r = box.procactor({"status", run, "--json"}, 60s);
  std::map<std::string, json> rows;
  if (r.exit_code != 0) return rows;
  const json status = json::parse(r.out, nullptr, false);
  if (status.is_discarded() || !status.contains("actors")) return rows;
  for (const auto& row : status["actors"]) rows[row["name"].get<std::string>()] = row;
  return rows;
}

bool running(const std::map<std::string, json>& rows, const std::string& name) {
  auto it = rows.find(name);
  return it != rows.end() && it->second["state"] == "running" && it->second["pid"].get<int>() > 0;
}

int pid_of(const std::map<std::string, json>& rows, const std::string& name) {
  auto it = rows.find(name);
  return it == rows.end() ? 0 : it->second["pid"].get<int>();
}

int restarts_of(const std::map<std::string, json>& rows, const std::string& name) {
  auto it = rows.find(name);
  return it == rows.end() ? 0 : it->second["restarts"].get<int>();
}

}  // namespace

TEST_CASE("a detached run can be listed and killed and restarted and read and stopped" * doctest::timeout(590)) {
  sandbox box;
  // A copy in the sandbox: its path in the supervisor's command line is
  // this test's alone. The graph runs until it is stopped, so every step
  // below acts on a running graph, on any machine.
  const fs::path graph = box.copy_graph("endless.toml");

  // launch --detach returns at once and names the run.
  const result launched = box.procactor({"launch", "--detach", graph.string()}, 60s);
  REQUIRE_MESSAGE(launched.exit_code == 0, launched.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(launched.out, match, std::regex(R"(started run (\S+) \(pid ([0-9]+)\))")),
                  launched.out);
  const std::string run = match[1];
  const pid_t supervisor = std::stoi(match[2]);
  CHECK(run == "endless");
  CHECK(launched.out.find("procactor stop " + run) != std::string::npos);

  std::map<std::string, json> rows;
  const auto all_running = [&] {
    rows = status_rows(box, run);
    return std::all_of(instances.begin(), instances.end(), [&](const auto& name) { return running(rows, name); });
  };
  REQUIRE_MESSAGE(eventually(all_running, 120s), "the run never had all its actors running");

  // status: a table with one row per instance, in the graph's order, then
  // the run's shared memory and the damage found in it (none).
  const result table = box.procactor({"status", run});
  CHECK(table.exit_code == 0);
  const auto lines = lines_of(table.out);
  REQUIRE_MESSAGE(lines.size() == 3 + instances.size(), table.out);
  CHECK(lines.back().starts_with("shared memory "));
  CHECK(lines.back().find("; 0 damaged records") != std::string::npos);
  CHECK(lines[0] == "run " + run + " (graph endless)");
  CHECK(lines[1].starts_with("ACTOR "));
  for (std::size_t i = 0; i < instances.size(); ++i) {
    CHECK_MESSAGE(lines[2 + i].starts_with(instances[i] + " "), lines[2 + i]);
    CHECK_MESSAGE(lines[2 + i].find(" running ") != std::string::npos, lines[2 + i]);
  }

  // status --json, without a run name (the only live run): valid JSON, one
  // object per instance with the documented fields.
  const result as_json = box.procactor({"status", "--json"});
  CHECK(as_json.exit_code == 0);
  const json status = json::parse(as_json.out, nullptr, false);
  REQUIRE_MESSAGE(!status.is_discarded(), as_json.out);
  CHECK(status["run"] == run);
  REQUIRE(status["actors"].is_array());
  REQUIRE(status["actors"].size() == instances.size());
  std::set<int> pids;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    const json& row = status["actors"][i];
    CHECK(row["name"] == instances[i]);
    CHECK(row["pid"].is_number_integer());
    CHECK(row["state"].is_string());
    CHECK(row["restarts"].is_number_integer());
    CHECK(row["processed"].is_number_integer());
    pids.insert(row["pid"].get<int>());
  }
  CHECK(pids.size() == instances.size());
  CHECK(pids.count(supervisor) == 0);
  // What the end of the test checks is gone is there now: the supervisor
  // (found by its command line) and its actors.
  CHECK(processes_with_cmdline(graph.string()) == std::vector<pid_t>{supervisor});
  CHECK(actors_of(supervisor).size() == instances.size());

  // kill: the supervisor treats it as a crash and restarts the instance.
  const int killed_pid = pid_of(rows, "worker.0");
  const result killed = box.procactor({"kill", run, "worker.0", "--signal", "KILL"});
  CHECK_MESSAGE(killed.exit_code == 0, killed.err);
  CHECK(killed.out == "sent SIGKILL to worker.0 (pid " + std::to_string(killed_pid) + ")\n");
  CHECK_MESSAGE(eventually(
                    [&] {
                      rows = status_rows(box, run);
                      return restarts_of(rows, "worker.0") >= 1 && running(rows, "worker.0") &&
                             pid_of(rows, "worker.0") != killed_pid;
                    },
                    120s),
                "worker.0 was not restarted after kill");
  CHECK(eventually([&] { return !is_alive(killed_pid); }, 60s));
  CHECK(restarts_of(rows, "worker.1") == 0);

  // restart: a new process for worker.1 alone.
  const int restarted_pid = pid_of(rows, "worker.1");
  const result restart = box.procactor({"restart", run, "worker.1"});
  CHECK_MESSAGE(restart.exit_code == 0, restart.err);
  CHECK(restart.out == "restarting worker.1 (pid " + std::to_string(restarted_pid) + ") after the message in hand\n");
  CHECK_MESSAGE(eventually(
                    [&] {
                      rows = status_rows(box, run);
                      return restarts_of(rows, "worker.1") >= 1 && running(rows, "worker.1") &&
                             pid_of(rows, "worker.1") != restarted_pid;
                    },
                    120s),
                "worker.1 was not restarted on request");
  CHECK(eventually([&] { return !is_alive(restarted_pid); }, 60s));

  // An actor the run does not have.
  CHECK(box.procactor({"kill", run, "nosuch.0"}).exit_code == 3);
  CHECK(box.procactor({"restart", run, "nosuch"}).exit_code == 3);

  // logs: the launcher's lines, as `launch` would have printed them.
  std::string log;
  CHECK_MESSAGE(eventually(
                    [&] {
                      const result r = box.procactor({"logs", run});
                      log = r.out;
                      return r.exit_code == 0 &&
                             log.find("procactor | worker.0 exited (signal 9") != std::string::npos &&
                             log.find("procactor | worker.1 restarting: restart on request") != std::string::npos;
                    },
                    60s),
                log);
  for (const auto& name : instances) CHECK(log.find("procactor | " + name + " started (pid ") != std::string::npos);
  const result sink_log = box.procactor({"logs", run, "sink.0"});
  CHECK_MESSAGE(sink_log.exit_code == 0, sink_log.err);
  CHECK(box.procactor({"logs", run, "nosuch.0"}).exit_code == 3);

  // stop: drains in order, returns once the run has ended.
  std::vector<pid_t> actor_pids;
  rows = status_rows(box, run);
  for (const auto& name : instances) actor_pids.push_back(pid_of(rows, name));
  const result stop = box.procactor({"stop", run}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(stop.out == "stopped run " + run + "\n");
  const result after = box.procactor({"status", run});
  CHECK(after.exit_code == 3);
  CHECK_MESSAGE(after.err.find("it ended with exit code 0") != std::string::npos, after.err);
  check_run_left_nothing(supervisor, actor_pids);
  CHECK(processes_with_cmdline(graph.string()).empty());

  // The logs outlive the run: the sink's total, and how the run ended.
  const result total = box.procactor({"logs", run, "sink.0"});
  CHECK(total.exit_code == 0);
  CHECK_MESSAGE(std::regex_match(unstamped(total.out), std::regex("total: [0-9]+\n")), total.out);
  const result ended = box.procactor({"logs", run, "--tail", "1"});
  CHECK_MESSAGE(unstamped(ended.out).starts_with("procactor | graph endless stopped after "), ended.out);
}

}  // namespace cli
