// Ctrl-C at the terminal, as a shell delivers it: the launch runs as a job
// in its own session and process group, and SIGINT goes to that group.
#include <doctest/doctest.h>
#include <signal.h>

#include "harness.hpp"

namespace cli {
namespace {

std::vector<pid_t> values(const std::map<std::string, pid_t>& pids) {
  std::vector<pid_t> out;
  for (const auto& [name, pid] : pids) out.push_back(pid);
  return out;
}

}  // namespace

TEST_CASE("Ctrl-C stops the graph in order and leaves nothing behind" * doctest::timeout(590)) {
  sandbox box;
  // Runs until stopped: the Ctrl-C always finds it running.
  const fs::path graph = box.copy_graph("endless.toml");
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 4 actors ready in ", 120s);
  const auto pids = running_instances(box, "endless", 4);
  // The probes that must come back empty see the run while it runs.
  REQUIRE(!segments_of(launch->pid()).empty());
  REQUIRE(actors_of(launch->pid()).size() == 4);
  REQUIRE(processes_with_cmdline(graph.string()) == std::vector<pid_t>{launch->pid()});

  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  // A stop the user asked for is a clean exit; the graph drained in order
  // (sources closed first, the sink reported) well before shutdown_timeout.
  CHECK_MESSAGE(code == 0, out, launch->err());
  CHECK(out.find("procactor | interrupted: stopping the graph (again to force)\n") != std::string::npos);
  CHECK(out.find("procactor | graph endless stopped after ") != std::string::npos);
  CHECK(out.find("sink.0 | total: ") != std::string::npos);
  CHECK_MESSAGE(out.find("passed: stopping the rest") == std::string::npos, out);
  CHECK(out.find("stopping now") == std::string::npos);

  check_run_left_nothing(launch->pid(), values(pids));
  CHECK(processes_with_cmdline(graph.string()).empty());
  CHECK(box.procactor({"status", "endless"}).exit_code == 3);
}

TEST_CASE("a launch whose output reader goes away stops the graph in order" * doctest::timeout(590)) {
  sandbox box;
  // Runs until stopped, and prints all the while: the launch writes again
  // after `head` has taken its one line and gone.
  const fs::path graph = box.copy_graph("talkers.toml");
  // SIGPIPE used to kill the supervisor, the graph with it, and the run
  // was recorded as died.
  const std::string command =
      "'" + procactor_binary().string() + "' launch '" + graph.string() + "' | head -n 1; exit ${PIPESTATUS[0]}";
  const result r = box.program({"/bin/bash", "-c", command}, 240s);
  CHECK_MESSAGE(r.exit_code == 0, r.out, r.err);
  CHECK(r.out.starts_with("procactor | "));
  const result status = box.procactor({"status", "talkers"});
  CHECK(status.exit_code == 3);
  CHECK_MESSAGE(status.err.find("it ended with exit code 0") != std::string::npos, status.err);
  const result log = box.procactor({"logs", "talkers"});
  CHECK_MESSAGE(
      log.out.find("procactor | standard output was closed (a broken pipe): stopping the graph") != std::string::npos,
      log.out);
  CHECK(log.out.find("procactor | graph talkers stopped after ") != std::string::npos);
  CHECK(processes_with_cmdline(graph.string()).empty());
}

TEST_CASE("a second Ctrl-C forces the stop and leaves nothing behind" * doctest::timeout(590)) {
  sandbox box;
  // Each worker hangs in its first message, so the drain after the first
  // Ctrl-C can never finish on its own; the test waits until both hang.
  const fs::path graph = box.copy_graph("stuck_drain.toml");
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 4 actors ready in ", 120s);
  launch->wait_for_output("worker.0 | stuck on tick ", 120s);
  launch->wait_for_output("worker.1 | stuck on tick ", 120s);
  const auto pids = running_instances(box, "stuck-drain", 4);
  REQUIRE(actors_of(launch->pid()).size() == 4);

  launch->signal(SIGINT);
  launch->wait_for_output("procactor | interrupted: stopping the graph (again to force)\n", 120s);
  // While it stops, a restart would start again what the stop ends: refused.
  const result restart = box.procactor({"restart", "stuck-drain", "worker.0"});
  CHECK(restart.exit_code == 1);
  CHECK_MESSAGE(restart.err.find("run stuck-drain is stopping: it restarts nothing now") != std::string::npos,
                restart.err);
  CHECK(box.procactor({"status", "stuck-drain", "--json"}).exit_code == 0);  // it still answers
  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  CHECK_MESSAGE(out.find("procactor | stopping now\n") != std::string::npos, out);
  CHECK(out.find("procactor | graph stuck-drain stopped after ") != std::string::npos);
  CHECK(out.find("passed: stopping the rest") == std::string::npos);

  check_run_left_nothing(launch->pid(), values(pids));
  CHECK(processes_with_cmdline(graph.string()).empty());
}

// A stop that closes an actor while it waits out its restart backoff: it
// starts again at once to handle what is queued (the tick it crashes on is
// set aside as poisoned), then ends; the launch waited for the backoff, and
// past shutdown_timeout it waited for ever.
TEST_CASE("Ctrl-C while an actor waits out a long restart backoff stops the graph in order at once" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("long_backoff.toml");  // backoff and shutdown_timeout: 10 minutes
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | worker.0 restarting: restart 1 in ", 120s);
  const std::vector<pid_t> pids = actors_of(launch->pid());  // the source and the sink; the worker waits

  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  CHECK_MESSAGE(out.find("procactor | worker.0 restarting: restart 2 now, to handle what is queued for it (it is "
                         "closed)\n") != std::string::npos,
                out);
  CHECK(out.find("dead letter (poisoned): clitest::Tick from source.0") != std::string::npos);
  CHECK(out.find("procactor | graph long-backoff stopped after ") != std::string::npos);
  // The run's last line counts what was set aside.
  CHECK_MESSAGE(out.find(" s; 1 message became a dead letter (worker.0 1; `procactor inspect long-backoff ACTOR` "
                         "shows them)\n") != std::string::npos,
                out);
  CHECK(out.find("sink.0 | total: ") != std::string::npos);
  CHECK(out.find("passed: stopping the rest") == std::string::npos);
  check_run_left_nothing(launch->pid(), pids);
}

// The same, for a source that fails as it starts: closed while it waits,
// with nothing queued for it, it is not started again (it would fail
// again); the stop waited for ever once shutdown_timeout had passed.
TEST_CASE("a stop while a failing source waits out its restart backoff ends the run at once" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("failing_source.toml");  // backoff and shutdown_timeout: 10 minutes
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | lines.0 restarting: restart 1 in ", 120s);
  const std::vector<pid_t> pids = actors_of(launch->pid());

  const result stop = box.procactor({"stop", "failing-source"}, 240s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.out, stop.err);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  CHECK_MESSAGE(out.find("procactor | lines.0 exited (closed while waiting to restart, with nothing queued: not "
                         "restarted)\n") != std::string::npos,
                out);
  CHECK(out.find("lines.0 started", out.find("restart 1 in ")) == std::string::npos);
  CHECK(out.find("procactor | graph failing-source stopped after ") != std::string::npos);
  CHECK(out.find("passed: stopping the rest") == std::string::npos);
  check_run_left_nothing(launch->pid(), pids);
}

TEST_CASE("a stop with a timeout shorter than shutdown_timeout ends a stuck drain then and says which timeout" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("stuck_drain.toml");  // shutdown_timeout = "10m"
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("worker.0 | stuck on tick ", 120s);
  launch->wait_for_output("worker.1 | stuck on tick ", 120s);
  const auto pids = running_instances(box, "stuck-drain", 4);

  const result stop = box.procactor({"stop", "stuck-drain", "--timeout", "1s"}, 240s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.out, stop.err);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  // It was the stop's own timeout, not the graph's 10 minutes, that ran out.
  CHECK_MESSAGE(out.find("procactor | the stop's timeout (1s) passed: stopping the rest\n") != std::string::npos, out);
  CHECK(out.find("shutdown_timeout (") == std::string::npos);
  check_run_left_nothing(launch->pid(), values(pids));
}

// A supervising program of the library's own (here example-primes and its
// Pool), not `launch`: its signal handler kills every actor's process group
// and removes the run's shared memory, then the signal takes its course.
// The workers' deaths that its supervisor sees meanwhile are the program's
// end, not crashes: none is restarted or logged as one (with a thousand
// workers, a dozen "exited (signal 9); restart 1 in 0 ms" lines came out).
TEST_CASE("SIGTERM or SIGINT to a program with a Pool kills every worker and restarts none and leaves nothing" *
          doctest::timeout(590)) {
  sandbox box;
  constexpr std::size_t workers = 300;
  for (const int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    // Primes below 10^12: far more than it counts before the signal.
    auto primes = box.start_program({example_primes_binary().string(), "1000000000000", std::to_string(workers)});
    REQUIRE_MESSAGE(eventually([&] { return actors_of(primes->pid()).size() >= workers; }, 300s), primes->err());
    const std::vector<pid_t> pids = actors_of(primes->pid());
    REQUIRE(!segments_of(primes->pid()).empty());

    primes->signal(sig);
    const int code = primes->wait(240s);
    CHECK_MESSAGE(code == 128 + sig, primes->err());
    CHECK_MESSAGE(primes->err().find("restart") == std::string::npos, primes->err());
    CHECK_MESSAGE(primes->err().find("exited") == std::string::npos, primes->err());
    // The helpers the handler killed are neither reported as failures nor
    // replaced: no new guardian is forked while the program ends.
    CHECK_MESSAGE(primes->err().find("takes its place") == std::string::npos, primes->err());
    CHECK_MESSAGE(primes->err().find("from now on") == std::string::npos, primes->err());
    check_run_left_nothing(primes->pid(), pids);
  }
}

}  // namespace cli
