// A run's helpers stopped from outside (kill -STOP): the fork server, the
// guardian of its shared memory, the spares. A stop must still end the run
// and leave nothing, and a restart must not wait on a stopped spare.
#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace cli {
namespace {

// The children of `supervisor` whose name (/proc/PID/comm) is `comm`.
std::vector<pid_t> children_named(pid_t supervisor, const std::string& comm) {
  std::vector<pid_t> found;
  for (pid_t pid : processes_with_cmdline("procactor")) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    pid_t parent = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &parent) != 2 || parent != supervisor) continue;
    if (read_whole("/proc/" + std::to_string(pid) + "/comm") == comm + "\n") found.push_back(pid);
  }
  return found;
}

// The state letter of /proc/PID/stat (R, S, T, ...); 0 when it cannot be read.
char state_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '\0';
}

// Stops each of `pids` and waits until it is; continues those still there
// when the test ends, passed or not, so that a failure leaves nothing.
struct stopped_processes {
  std::vector<pid_t> pids;
  explicit stopped_processes(std::vector<pid_t> which) : pids(std::move(which)) {
    for (pid_t pid : pids) REQUIRE(::kill(pid, SIGSTOP) == 0);
    for (pid_t pid : pids) REQUIRE(eventually([&] { return state_of(pid) == 'T'; }, 60s));
  }
  stopped_processes(const stopped_processes&) = delete;
  stopped_processes& operator=(const stopped_processes&) = delete;
  ~stopped_processes() {
    for (pid_t pid : pids) {
      if (is_alive(pid)) ::kill(pid, SIGCONT);
    }
  }
};

// `stop RUN --timeout 5s` returns, and the supervisor, the given helpers,
// the actors and the run's /dev/shm segments are all gone.
void check_stop_ends_everything(sandbox& box, const detached_run& run, const std::vector<pid_t>& helpers) {
  const std::vector<pid_t> actors = actors_of(run.supervisor);
  const result stopped = box.procactor({"stop", run.name, "--timeout", "5s"}, 120s);
  CHECK_MESSAGE(stopped.exit_code == 0, stopped.out, stopped.err);
  check_run_left_nothing(run.supervisor, actors);
  for (pid_t pid : helpers) CHECK_MESSAGE(eventually([&] { return !is_alive(pid); }, 60s), "helper ", pid, " runs");
  CHECK(children_named(run.supervisor, "procactor-spare").empty());
}

}  // namespace

TEST_CASE("stop ends a run whose fork server is stopped and leaves nothing" * doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  const auto pids = running_instances(box, run.name, 4);
  const std::vector<pid_t> server = children_named(run.supervisor, "procactor-fork");
  REQUIRE(server.size() == 1);
  std::vector<pid_t> helpers = server;
  for (pid_t pid : children_named(run.supervisor, "procactor-guard")) helpers.push_back(pid);
  const stopped_processes stopped(server);
  // A restart takes a spare and asks the stopped server for the next one:
  // an answer that never comes.
  REQUIRE(::kill(pids.at("worker.0"), SIGKILL) == 0);
  CHECK(eventually([&] { return running_instances(box, run.name, 4).at("worker.0") != pids.at("worker.0"); }, 120s));
  for (pid_t pid : children_named(run.supervisor, "procactor-spare")) helpers.push_back(pid);
  check_stop_ends_everything(box, run, helpers);
}

TEST_CASE("stop ends a run whose guardian is stopped and removes its shared memory" * doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  (void)running_instances(box, run.name, 4);
  const std::vector<pid_t> guardian = children_named(run.supervisor, "procactor-guard");
  REQUIRE(guardian.size() == 1);
  std::vector<pid_t> helpers = guardian;
  for (pid_t pid : children_named(run.supervisor, "procactor-fork")) helpers.push_back(pid);
  const stopped_processes stopped(guardian);
  check_stop_ends_everything(box, run, helpers);
}

TEST_CASE("a restart does not wait on a stopped spare" * doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  const auto pids = running_instances(box, run.name, 4);
  const std::vector<pid_t> spares = children_named(run.supervisor, "procactor-spare");
  REQUIRE(!spares.empty());
  const stopped_processes stopped(spares);
  REQUIRE(::kill(pids.at("worker.0"), SIGKILL) == 0);
  // running_instances waits until none is starting: worker.0 runs again.
  CHECK(eventually([&] { return running_instances(box, run.name, 4).at("worker.0") != pids.at("worker.0"); }, 120s));
  for (pid_t pid : spares) CHECK_MESSAGE(eventually([&] { return !is_alive(pid); }, 60s), "spare ", pid, " runs");
  check_stop_ends_everything(box, run, {});
}

// `procactor stop` waits for the run to end once the supervisor has taken
// the stop. A supervisor stopped then never ends, and that wait had no end
// either (nothing said); one killed then left a run that died, and the stop
// still said "stopped run", exit 0. The drain here hangs (shutdown_timeout
// is 10 minutes), so the stop is still waiting when the supervisor is hit.
TEST_CASE("a stop whose supervisor is stopped or killed while it stops the run says so and exits 1" *
          doctest::timeout(290)) {
  bool kill_it = false;
  SUBCASE("stopped") {}
  SUBCASE("killed") { kill_it = true; }
  CAPTURE(kill_it);
  sandbox box;
  auto launch = box.start({"launch", box.copy_graph("stuck_drain.toml").string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("worker.0 | stuck on tick ", 120s);
  launch->wait_for_output("worker.1 | stuck on tick ", 120s);
  std::vector<pid_t> actors;
  for (const auto& [name, pid] : running_instances(box, "stuck-drain", 4)) actors.push_back(pid);
  auto stop = box.start({"stop", "stuck-drain"});
  launch->wait_for_output("stop requested: stopping the graph", 120s);
  if (kill_it) {
    launch->signal(SIGKILL);
    CHECK(stop->wait(120s) == 1);
    CHECK_MESSAGE(stop->err().find("run stuck-drain died: its supervisor") != std::string::npos, stop->err());
    CHECK_MESSAGE(stop->out().find("stopped run") == std::string::npos, stop->out());
    (void)launch->wait(120s);
  } else {
    {
      stopped_processes supervisor({launch->pid()});
      CHECK(stop->wait(120s) == 1);
      CHECK_MESSAGE(stop->err().find("was stopped (by SIGSTOP") != std::string::npos, stop->err());
      CHECK_MESSAGE(stop->err().find("`kill -CONT " + std::to_string(launch->pid()) + "`") != std::string::npos,
                    stop->err());
    }
    // Continued, it goes on stopping; a shorter timeout ends the hung drain.
    const result again = box.procactor({"stop", "stuck-drain", "--timeout", "1s"}, 120s);
    CHECK_MESSAGE(again.exit_code == 0, again.out, again.err);
    CHECK(launch->wait(120s) == 0);
  }
  check_run_left_nothing(launch->pid(), actors);
}

}  // namespace cli
