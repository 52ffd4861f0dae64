// The control socket of a running graph, spoken to directly: clients that
// stall or crowd it do not keep `procactor status` waiting, and requests
// `procactor` would never send get an error that names what is wrong.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

// `status RUN --json` answered, with one row per instance of the graph.
void check_status_answers(sandbox& box, const std::string& run, std::size_t rows) {
  const result status = box.procactor({"status", run, "--json"}, 120s);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  const json parsed = json::parse(status.out, nullptr, false);
  REQUIRE_MESSAGE(!parsed.is_discarded(), status.out);
  CHECK(parsed["actors"].size() == rows);
}

// The state letter of /proc/PID/stat (R, S, T, ...); 0 when it cannot be read.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '\0';
}

}  // namespace

TEST_CASE("status answers while a slow client and 20 idle connections hold the control socket" *
          doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  (void)running_instances(box, run.name, 4);
  const fs::path socket = control_socket(box, run.name);

  std::vector<std::unique_ptr<control_client>> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<control_client>(socket));
  // The slow one: "status", a byte at a time, 0.8 s apart, until told to stop.
  control_client slow(socket);
  std::atomic<bool> stop_dribbling{false};
  // (No assertion in this thread: a failed send just ends the dribble, and
  // the checks below see what the server did.)
  std::thread dribble([&] {
    const std::string request = "status";
    for (std::size_t i = 0; i < request.size() && !stop_dribbling && slow.try_send(request.substr(i, 1)); ++i) {
      for (int slice = 0; slice < 8 && !stop_dribbling; ++slice) std::this_thread::sleep_for(100ms);
    }
  });

  check_status_answers(box, run.name, 4);
  // It answered while they were all still connected, still waiting: it was
  // not queued behind them.
  std::size_t still_waiting = 0;
  for (const auto& client : idle) still_waiting += client->waiting() ? 1 : 0;
  const bool slow_waiting = slow.waiting();
  stop_dribbling = true;
  dribble.join();
  CHECK(still_waiting == idle.size());
  CHECK(slow_waiting);

  // A silent connection is told why it is dropped, once its time is up.
  const std::string dropped = idle.front()->reply(120s);
  CHECK_MESSAGE(dropped.starts_with("error: no complete request line within "), dropped);
  CHECK(box.procactor({"stop", run.name}, 120s).exit_code == 0);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("more connections than the control socket holds: the oldest silent ones go and status answers" *
          doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  (void)running_instances(box, run.name, 4);
  const fs::path socket = control_socket(box, run.name);

  std::vector<std::unique_ptr<control_client>> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<control_client>(socket));
  check_status_answers(box, run.name, 4);
  // The first ones made room for the later ones, and were told so.
  const std::string first = idle.front()->reply(120s);
  CHECK_MESSAGE(first.starts_with("error: too many connections ("), first);
  CHECK(idle.back()->waiting());
  CHECK(box.procactor({"stop", run.name}, 120s).exit_code == 0);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("raw control requests that are malformed get an error naming the problem" * doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  const auto before = running_instances(box, run.name, 4);
  const fs::path socket = control_socket(box, run.name);

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"kill worker 99999\n", "error: unknown signal '99999'"},
      {"kill worker.0 0\n", "error: unknown signal '0'"},
      {"kill worker.0 NOPE\n", "error: unknown signal 'NOPE'"},
      {"kill\n", "error: kill needs an actor"},
      {"restart\n", "error: restart needs an actor"},
      {"restart worker.x\n", "error: 'worker.x' is not ACTOR or ACTOR.N"},
      {"restart worker.0 now\n", "error: unknown restart option 'now' (expected force or drain)"},
      {"restart worker.0 force drain\n", "error: restart takes an actor, and force or drain; unexpected 'drain'"},
      {"inspect\n", "error: inspect needs an actor"},
      {"inspect worker.0 all\n", "error: inspect takes one actor; unexpected 'all'"},
      {"inspect nosuch\n", "error: no actor 'nosuch' in run " + run.name},
      {"kill worker.0 TERM again\n", "error: kill takes an actor and a signal; unexpected 'again'"},
      {"status please now\n", "error: status takes at most a client name; unexpected 'now'"},
      {"status -please\n",
       "error: status client '-please' is not 1 to 32 letters, digits, '-' or '_', starting with a letter or digit"},
      {"stop soon\n", "error: stop timeout 'soon' is not a whole number of nanoseconds"},
      {"stop -5\n", "error: stop timeout '-5' is not a whole number of nanoseconds"},
      {"frobnicate\n", "error: unknown request 'frobnicate'"},
      {"\n", "error: empty request"},
      {std::string("stat\x01us\n", 8), "error: request holds byte 0x01 at offset 4"},
      {std::string(5000, 'x') + "\n", "error: request longer than 1024 bytes"},
      {"restart nosuch\n", "error: no actor 'nosuch' in run " + run.name},
      {"kill worker.7\n", "error: no actor 'worker.7' in run " + run.name},
  };
  for (const auto& [request, expected] : refused) {
    CAPTURE(request.substr(0, 40));
    const std::string reply = control_exchange(socket, request);
    CHECK_MESSAGE(reply.starts_with(expected), reply);
    CHECK(reply.ends_with("\n"));
    CHECK(count_of(reply, "\n") == 1);
  }
  // None of them touched the run.
  CHECK(running_instances(box, run.name, 4) == before);

  // Well-formed ones still work, with a CRLF or without a newline at all
  // (the client's end of input ends the line).
  CHECK(control_exchange(socket, "ping\r\n") == "pong\n");
  CHECK(control_exchange(socket, "ping") == "pong\n");
  CHECK(control_exchange(socket, "kill worker.1 TERM\n") ==
        "ok: sent SIGTERM to worker.1 (pid " + std::to_string(before.at("worker.1")) + ")\n");
  CHECK(eventually(
      [&] {
        const auto now = running_instances(box, run.name, 4);
        return now.at("worker.1") != before.at("worker.1");
      },
      120s));
  CHECK(box.procactor({"stop", run.name}, 120s).exit_code == 0);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("status shows a stopped actor as stopped and says at once that a stopped supervisor cannot answer" *
          doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  const auto pids = running_instances(box, run.name, 4);
  const pid_t worker = pids.at("worker.0");

  REQUIRE(::kill(worker, SIGSTOP) == 0);
  const auto state_of_worker = [&] {
    const result r = box.procactor({"status", run.name, "--json"}, 120s);
    const json parsed = json::parse(r.out, nullptr, false);
    if (parsed.is_discarded() || !parsed.contains("actors")) return std::string();
    for (const auto& row : parsed["actors"]) {
      if (row["name"] == "worker.0") return row["state"].get<std::string>();
    }
    return std::string();
  };
  CHECK(eventually([&] { return state_of_worker() == "stopped"; }, 60s));
  const result table = box.procactor({"status", run.name}, 120s);
  CHECK(table.exit_code == 0);
  CHECK_MESSAGE(table.out.find(" stopped ") != std::string::npos, table.out);
  REQUIRE(::kill(worker, SIGCONT) == 0);
  CHECK(eventually([&] { return state_of_worker() == "running"; }, 60s));

  // The supervisor stopped: no wait for the socket's time limit.
  REQUIRE(::kill(run.supervisor, SIGSTOP) == 0);
  CHECK(eventually([&] { return process_state(run.supervisor) == 'T'; }, 60s));
  for (const auto& args : std::vector<std::vector<std::string>>{{"status", run.name}, {"inspect", run.name, "sink"}}) {
    const result r = box.procactor(args, 120s);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("is stopped") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("kill -CONT " + std::to_string(run.supervisor)) != std::string::npos, r.err);
  }
  // ls lists it as stopped, without waiting for an answer it cannot give.
  const result listed = box.procactor({"ls", "--json"}, 120s);
  CHECK(listed.exit_code == 0);
  const json runs = json::parse(listed.out, nullptr, false);
  REQUIRE_MESSAGE(runs.is_array(), listed.out);
  const auto mine = std::find_if(runs.begin(), runs.end(), [&](const json& r) { return r["name"] == run.name; });
  REQUIRE(mine != runs.end());
  CHECK((*mine)["state"] == "stopped");
  CHECK((*mine)["actors"].is_null());
  const result table_ls = box.procactor({"ls"}, 120s);
  CHECK_MESSAGE(table_ls.out.find(" stopped ") != std::string::npos, table_ls.out);
  REQUIRE(::kill(run.supervisor, SIGCONT) == 0);
  check_status_answers(box, run.name, 4);
  CHECK(box.procactor({"stop", run.name}, 120s).exit_code == 0);
  check_run_left_nothing(run.supervisor);
}

}  // namespace cli
