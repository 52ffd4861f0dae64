// `procactor scale RUN ACTOR N` on a running graph: the new replicas start
// and get work, the ones taken away handle what was queued for them and go,
// and the sink gets every tick the source emitted, once.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

json status_of(sandbox& box, const std::string& run) {
  const result status = box.procactor({"status", run, "--json"}, 120s);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  json parsed = json::parse(status.out, nullptr, false);
  REQUIRE_MESSAGE(!parsed.is_discarded(), status.out);
  return parsed;
}

// The instance names in `status RUN --json` once `done` holds for its rows;
// fails the test after a generous deadline.
template <class Done>
std::set<std::string> wait_for_rows(sandbox& box, const std::string& run, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  for (;;) {
    const json status = status_of(box, run);
    if (done(status["actors"])) {
      std::set<std::string> names;
      for (const auto& row : status["actors"]) names.insert(row["name"].get<std::string>());
      return names;
    }
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, status.dump());
    std::this_thread::sleep_for(50ms);
  }
}

// The files process `pid` has open, as /proc/PID/fd names them.
std::set<std::string> open_files(pid_t pid) {
  std::set<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code gone;  // closed since it was listed
    const fs::path target = fs::read_symlink(entry.path(), gone);
    if (!gone) files.insert(target.string());
  }
  return files;
}

const json* row_named(const json& rows, const std::string& name) {
  for (const auto& row : rows) {
    if (row["name"] == name) return &row;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("scale adds replicas that get work and removes replicas without losing a message" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("scalable.toml");
  auto launch = box.start({"launch", graph.string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 4 actors ready in ", 300s);

  // Up: two more relays, which the source's route takes in.
  const result up = box.procactor({"scale", "scalable", "worker", "4"});
  REQUIRE_MESSAGE(up.exit_code == 0, up.err);
  CHECK_MESSAGE(up.out == "worker scaled from 2 to 4 replicas: started worker.2, worker.3\n", up.out);
  const auto after_up = wait_for_rows(box, "scalable", [](const json& rows) {
    const json* newest = row_named(rows, "worker.3");
    return newest != nullptr && (*newest)["processed"].get<std::uint64_t>() > 0;
  });
  CHECK(after_up == std::set<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "worker.3", "sink.0"});

  // The same count again changes nothing; mistakes are named.
  const result same = box.procactor({"scale", "scalable", "worker", "4"});
  CHECK(same.exit_code == 0);
  CHECK_MESSAGE(same.out == "worker has 4 replicas already\n", same.out);
  const result unknown = box.procactor({"scale", "scalable", "nosuch", "2"});
  CHECK(unknown.exit_code == 3);
  CHECK_MESSAGE(unknown.err.find("no actor 'nosuch' in run scalable") != std::string::npos, unknown.err);
  const result one_replica = box.procactor({"scale", "scalable", "worker.1", "2"});
  CHECK(one_replica.exit_code == 2);  // a usage error, as N out of range is
  CHECK_MESSAGE(one_replica.err.find("scale takes an actor, not one replica: 'worker.1'") != std::string::npos,
                one_replica.err);
  const result zero = box.procactor({"scale", "scalable", "worker", "0"});
  CHECK(zero.exit_code == 2);
  CHECK_MESSAGE(zero.err.find("N: Value 0 not in range 1 to 1023") != std::string::npos, zero.err);
  CHECK(box.procactor({"scale", "nosuch", "worker", "2"}).exit_code == 3);
  // More than the run has room for is refused whole: none starts. Six
  // actors so far, of the 1,023 a run holds.
  const result too_many = box.procactor({"scale", "scalable", "worker", "1023"});
  CHECK(too_many.exit_code == 1);
  CHECK_MESSAGE(too_many.err.find("cannot scale worker to 1023 replicas: that adds 1019 actors, and run scalable has "
                                  "room for 1017 more") != std::string::npos,
                too_many.err);
  CHECK(status_of(box, "scalable")["actors"].size() == 6);

  // Down to one, while ticks flow: the highest go first, after they have
  // handled what they had.
  const result down = box.procactor({"scale", "scalable", "worker", "1"});
  REQUIRE_MESSAGE(down.exit_code == 0, down.err);
  CHECK_MESSAGE(down.out == "worker scaled from 4 to 1 replica: closing worker.3, worker.2, worker.1, which handle "
                            "what is queued first\n",
                down.out);
  const auto after_down = wait_for_rows(box, "scalable", [](const json& rows) { return rows.size() == 3; });
  CHECK(after_down == std::set<std::string>{"source.0", "worker.0", "sink.0"});
  // And up again: the new one is named after the highest there has been.
  const result again = box.procactor({"scale", "scalable", "worker", "2"});
  CHECK_MESSAGE(again.out == "worker scaled from 1 to 2 replicas: started worker.4\n", again.out);
  (void)wait_for_rows(box, "scalable", [](const json& rows) {
    const json* newest = row_named(rows, "worker.4");
    return newest != nullptr && (*newest)["processed"].get<std::uint64_t>() > 0;
  });

  const result events = box.procactor({"events", "scalable"});
  // Each a line of kind `scaled` for the actor `worker`, which says so once.
  CHECK_MESSAGE(std::regex_search(events.out, std::regex(R"(scaled +worker +from 2 to 4 replicas: started )")),
                events.out);
  CHECK_MESSAGE(count_of(events.out, " replicas: started ") + count_of(events.out, " replica: closing ") == 3,
                events.out);
  CHECK_MESSAGE(count_of(events.out, "worker scaled") == 0, events.out);

  const std::vector<pid_t> pids = actors_of(launch->pid());
  const result stop = box.procactor({"stop", "scalable"}, 300s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(launch->wait(300s) == 0);
  const std::string out = launch->out();
  // Every tick the source emitted reached the sink once, through whichever
  // relays there were at the time.
  std::smatch emitted;
  std::smatch got;
  REQUIRE_MESSAGE(std::regex_search(out, emitted, std::regex("source\\.0 \\| emitted: (\\d+)")), out);
  REQUIRE_MESSAGE(std::regex_search(out, got, std::regex("sink\\.0 \\| ticks: (\\d+) distinct, highest (\\d+), "
                                                         "missing (\\d+)")),
                  out);
  CHECK(got[1].str() == emitted[1].str());
  CHECK(got[2].str() == emitted[1].str());
  CHECK(got[3].str() == "0");
  CHECK_MESSAGE(out.find("worker.3 exited (exit code 0)") != std::string::npos, out);
  // Each edge counts what went along it over the whole run, the share of
  // the replicas scaled away too: a counter that does not go down.
  const result ended = box.procactor({"status", "scalable", "--json"}, 120s);
  CHECK(ended.exit_code == 3);
  const json last = json::parse(ended.out, nullptr, false);
  REQUIRE_MESSAGE(last.contains("edges"), ended.out);
  std::map<std::string, std::uint64_t> along;
  for (const json& edge : last["edges"]) {
    along[edge["from"].get<std::string>() + ">" + edge["to"].get<std::string>()] =
        edge["messages"].get<std::uint64_t>();
  }
  const json* sink = row_named(last["actors"], "sink.0");
  REQUIRE(sink != nullptr);
  CHECK(along["worker>sink"] == (*sink)["processed"].get<std::uint64_t>());
  CHECK(along["source>worker"] == std::stoull(emitted[1].str()));
  check_run_left_nothing(launch->pid(), pids);
}

TEST_CASE("scale past the open-file limit is refused before any replica starts" * doctest::timeout(290)) {
  sandbox box;
  // Launched just over what launch asks for its 4 instances (4 * 4 + 256 = 272):
  // 200 replicas would need far more.
  const fs::path graph = box.copy_graph("endless.toml");
  const result launched = box.program({"/bin/sh", "-c", "ulimit -n 280 && exec \"$0\" launch --detach \"$1\"",
                                       procactor_binary().string(), graph.string()},
                                      120s);
  REQUIRE_MESSAGE(launched.exit_code == 0, launched.out, launched.err);
  std::smatch started;
  REQUIRE_MESSAGE(std::regex_search(launched.out, started, std::regex(R"(started run endless \(pid ([0-9]+)\))")),
                  launched.out);
  const pid_t supervisor = std::stoi(started[1]);
  const std::set<std::string> before = wait_for_rows(box, "endless", [](const json& rows) { return rows.size() == 4; });

  const result refused = box.procactor({"scale", "endless", "worker", "200"});
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.err.find("cannot scale worker to 200 replicas: run endless would have 202 actor instances, "
                                 "which need 1064 open files in the supervisor; its limit is 280") != std::string::npos,
                refused.err);
  // Nothing changed: the same four instances.
  CHECK(wait_for_rows(box, "endless", [](const json& rows) { return rows.size() == 4; }) == before);
  const result events = box.procactor({"events", "endless"});
  CHECK_MESSAGE(events.out.find("scaled") == std::string::npos, events.out);

  const result within = box.procactor({"scale", "endless", "worker", "3"});
  CHECK_MESSAGE(within.exit_code == 0, within.err);
  const std::vector<pid_t> pids = actors_of(supervisor);
  CHECK(box.procactor({"stop", "endless"}, 120s).exit_code == 0);
  check_run_left_nothing(supervisor, pids);
}

TEST_CASE("a replica scaled away leaves its last lines in its log and no log open in the supervisor" *
          doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("scalable_chatty.toml"));
  const fs::path logs = fs::canonical(box.runs_root() / run.name / "logs");
  (void)wait_for_rows(box, run.name, [](const json& rows) { return rows.size() == 3; });

  // Twice up and down: each replica taken away says so as it stops
  // (on_stop), the last line it writes.
  for (const std::string replicas : {"3", "1", "3", "1"}) {
    const result scaled = box.procactor({"scale", run.name, "worker", replicas});
    REQUIRE_MESSAGE(scaled.exit_code == 0, scaled.err);
    const std::size_t rows = replicas == "3" ? 5 : 3;
    (void)wait_for_rows(box, run.name, [rows](const json& now) {
      if (now.size() != rows) return false;
      return std::all_of(now.begin(), now.end(), [](const json& row) { return row["state"] == "running"; });
    });
  }
  for (const char* gone : {"worker.1", "worker.2", "worker.3", "worker.4"}) {
    const fs::path log = logs / (std::string(gone) + ".log");
    CHECK_MESSAGE(read_whole(log).ends_with(std::string(gone) + ": on_stop ran\n"), std::string(gone), ": ",
                  read_whole(log));
    // Its file is closed once it has gone: the supervisor held one open
    // for every replica that ever wrote a line.
    CHECK_MESSAGE(eventually([&] { return !open_files(run.supervisor).contains(log.string()); }, 60s),
                  std::string(gone), " still has its log open in the supervisor");
  }

  // A replica added later writes its own log from its first line on.
  const result up = box.procactor({"scale", run.name, "worker", "2"});
  REQUIRE_MESSAGE(up.exit_code == 0, up.err);
  (void)wait_for_rows(box, run.name, [](const json& rows) { return rows.size() == 4; });
  const std::vector<pid_t> pids = actors_of(run.supervisor);
  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor, pids);
  CHECK(read_whole(logs / "worker.5.log").ends_with("worker.5: on_stop ran\n"));
  CHECK(read_whole(logs / "worker.0.log").ends_with("worker.0: on_stop ran\n"));
}

}  // namespace cli
