// What a run leaves in its directory outlives it: a supervisor killed with
// kill -9 is reported as died (not as gone), and a new run of the same
// graph moves the old one aside instead of deleting its logs.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"

namespace cli {
namespace {

pid_t recorded_supervisor(const sandbox& box, const std::string& run) {
  std::ifstream in(box.runs_root() / run / "supervisor.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

}  // namespace

TEST_CASE("a detached supervisor killed with kill -9 leaves a run that status reports as died and whose logs remain" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  const auto run = launch_detached(box, graph);
  const auto pids = running_instances(box, run.name, 4);
  // A dashboard of the run, serving when the supervisor is killed.
  const auto dashboard = box.start({"dashboard", run.name, "--http", "127.0.0.1:0"});
  dashboard->wait_for_output("Ctrl-C to stop", 60s);
  // And followers of its logs and events, once each has printed something.
  const auto logs = box.start({"logs", run.name, "source", "-f"});
  const auto events = box.start({"events", run.name, "-f"});
  events->wait_for_output("started", 60s);

  REQUIRE(::kill(run.supervisor, SIGKILL) == 0);
  CHECK(eventually([&] { return !is_alive(run.supervisor); }, 60s));
  // It stops, saying the run died rather than that it ended.
  CHECK(dashboard->wait(60s) == 1);
  CHECK_MESSAGE(dashboard->out().find("procactor | run " + run.name + " died; the dashboard stops") != std::string::npos,
                dashboard->out());
  CHECK_MESSAGE(dashboard->err().find("procactor: run " + run.name + " died: its supervisor") != std::string::npos,
                dashboard->err());
  // The followers stop too, saying so, with exit 1 (they said nothing and
  // exited 0, as for a run that ended).
  for (auto* follower : {logs.get(), events.get()}) {
    CHECK(follower->wait(60s) == 1);
    CHECK_MESSAGE(follower->err().find("procactor: run " + run.name + " died: its supervisor") != std::string::npos,
                  follower->err());
  }
  // Its actors die with it.
  for (const auto& [name, pid] : pids) CHECK_MESSAGE(eventually([&] { return !is_alive(pid); }, 60s), name);

  const std::string died = "procactor: run " + run.name + " died: its supervisor (pid " +
                           std::to_string(run.supervisor) + ") was killed";
  for (const auto& args : std::vector<std::vector<std::string>>{{"status", run.name},
                                                                {"status", run.name, "--json"},
                                                                {"status"},
                                                                {"stop", run.name},
                                                                {"restart", run.name, "worker"},
                                                                {"kill", run.name, "worker.0"}}) {
    CAPTURE(args.front());
    CAPTURE(args.size());
    const result r = box.procactor(args);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.starts_with(died), r.err);
    if (args.back() != "--json") {
      CHECK(r.out.empty());
      continue;
    }
    // A script gets an object that says so.
    const auto status = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_MESSAGE(status.is_object(), r.out);
    CHECK(status["run_state"] == "died");
    CHECK(status["run"] == run.name);
    CHECK(status["graph"] == "endless");
    CHECK(status["supervisor_pid"] == run.supervisor);
    CHECK(status["exit_code"].is_null());
  }
  // What it printed until it was killed is still there.
  const result log = box.procactor({"logs", run.name});
  CHECK(log.exit_code == 0);
  for (const auto& [name, pid] : pids) {
    CHECK_MESSAGE(log.out.find("procactor | " + name + " started (pid " + std::to_string(pid) + ")") !=
                      std::string::npos,
                  log.out);
  }
  CHECK(box.procactor({"logs", run.name, "worker.0"}).exit_code == 0);

  // A new run of the graph takes the name; the dead one stays, as NAME.1.
  const auto again = launch_detached(box, graph);
  CHECK(again.name == run.name);
  (void)running_instances(box, again.name, 4);
  const result old_status = box.procactor({"status", run.name + ".1"});
  CHECK(old_status.exit_code == 1);
  CHECK_MESSAGE(old_status.err.starts_with("procactor: run " + run.name + ".1 died: its supervisor (pid " +
                                           std::to_string(run.supervisor) + ")"),
                old_status.err);
  const result old_log = box.procactor({"logs", run.name + ".1"});
  CHECK(old_log.exit_code == 0);
  CHECK(old_log.out == log.out);
  // With one run live, it is the one meant without a name.
  CHECK(box.procactor({"status"}).exit_code == 0);

  CHECK(box.procactor({"stop", again.name}, 120s).exit_code == 0);
  check_run_left_nothing(again.supervisor);
}

TEST_CASE("a relaunch of a graph keeps the logs of its earlier runs" * doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = quick_primes(box);

  std::vector<pid_t> supervisors;
  for (int i = 0; i < 12; ++i) {
    auto launch = box.start({"launch", graph.string()});
    const int code = launch->wait(240s);
    REQUIRE_MESSAGE(code == 0, launch->out(), launch->err());
    supervisors.push_back(launch->pid());
  }
  // The latest run has the graph's name; the ones before are NAME.1,
  // NAME.2, ... in launch order, the newest ten of them kept.
  CHECK(recorded_supervisor(box, "primes-small") == supervisors[11]);
  CHECK(!fs::exists(box.runs_root() / "primes-small.1"));
  for (int n = 2; n <= 11; ++n) {
    CAPTURE(n);
    const std::string name = "primes-small." + std::to_string(n);
    CHECK(recorded_supervisor(box, name) == supervisors[static_cast<std::size_t>(n - 1)]);
    const result total = box.procactor({"logs", name, "sink.0"});
    CHECK(total.exit_code == 0);
    CHECK(unstamped(total.out) == "total: " + std::to_string(primes_between(2, 2000)) + "\n");
    const result status = box.procactor({"status", name});
    CHECK(status.exit_code == 3);
    CHECK_MESSAGE(status.err.find("it ended with exit code 0") != std::string::npos, status.err);
  }
  const result latest = box.procactor({"logs", "primes-small", "--tail", "1"});
  CHECK_MESSAGE(unstamped(latest.out).starts_with("procactor | graph primes-small finished in "), latest.out);
}

}  // namespace cli

namespace cli {

// A run whose directory is removed while it runs stops in order (no
// command could reach it any more) and says so; its last line said it had
// "finished", and a log line it could not write told to free room.
TEST_CASE("a run whose directory is removed stops in order and says why and exits 1" * doctest::timeout(290)) {
  sandbox box;
  auto launch = box.start({"launch", test_graph("endless.toml").string()});
  launch->wait_for_output(" actors ready in ", 120s);
  const fs::path dir = box.runs_root() / "endless";
  REQUIRE(fs::exists(dir / "control.sock"));
  fs::remove_all(dir);
  CHECK(launch->wait(240s) == 1);
  const std::string out = launch->out();
  CHECK_MESSAGE(out.find("procactor | its run directory " + dir.string() +
                         " was removed: `procactor status` and `stop` cannot reach the run any more; stopping the "
                         "graph\n") != std::string::npos,
                out, launch->err());
  const auto lines = lines_of(out);
  REQUIRE(!lines.empty());
  CHECK_MESSAGE(lines.back().starts_with("procactor | graph endless stopped after "), lines.back());
  CHECK_MESSAGE(
      lines.back().find("; its run directory " + dir.string() + " was removed during the run") != std::string::npos,
      lines.back());
  CHECK_MESSAGE(launch->err().find("free room") == std::string::npos, launch->err());
  check_run_left_nothing(launch->pid());
}

}  // namespace cli
