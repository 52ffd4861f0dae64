// Supervision groups from a graph file, through real processes: which
// instances each strategy restarts, a nested group giving up all the way
// to the top, `restart` (graceful, --force, --drain), `inspect`, and the
// validation of [groups.NAME].
//
// Every wait is for an event: a line in the output, or a state in
// `status --json`; graphs that a test acts on run until they are stopped.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

struct row {
  pid_t pid = 0;
  std::string state;
  int restarts = 0;
  std::string group;
};

// `status RUN --json` by instance name; empty while the run does not answer.
std::map<std::string, row> rows_of(sandbox& box, const std::string& run) {
  const result r = box.procactor({"status", run, "--json"}, 60s);
  std::map<std::string, row> rows;
  if (r.exit_code != 0) return rows;
  const json status = json::parse(r.out, nullptr, false);
  if (status.is_discarded() || !status.contains("actors")) return rows;
  for (const auto& a : status["actors"]) {
    rows[a["name"].get<std::string>()] = {a["pid"].get<pid_t>(), a["state"].get<std::string>(),
                                          a["restarts"].get<int>(), a.value("group", "")};
  }
  return rows;
}

// Every instance of `names` runs, and every one of `changed` runs with a
// pid and restart count other than in `before`: the restarts have happened
// and settled.
bool settled(const std::map<std::string, row>& now, const std::map<std::string, row>& before,
             const std::vector<std::string>& changed) {
  for (const auto& [name, was] : before) {
    auto it = now.find(name);
    if (it == now.end() || it->second.state != "running" || it->second.pid <= 0) return false;
  }
  return std::all_of(changed.begin(), changed.end(), [&](const std::string& name) {
    const row& was = before.at(name);
    const row& is = now.at(name);
    return is.pid != was.pid && is.restarts > was.restarts;
  });
}

// Kills `victim` with SIGKILL and checks that exactly `expected` got a new
// process (and a higher restart count), and nothing else did.
void kill_and_check(sandbox& box, const std::string& run, const std::string& victim,
                    const std::vector<std::string>& expected) {
  CAPTURE(victim);
  const auto before = rows_of(box, run);
  REQUIRE(before.count(victim) == 1);
  const result killed = box.procactor({"kill", run, victim});
  REQUIRE_MESSAGE(killed.exit_code == 0, killed.err);
  std::map<std::string, row> now;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        now = rows_of(box, run);
                        return settled(now, before, expected);
                      },
                      120s),
                  "the restarts after killing ", victim, " did not happen or settle");
  for (const auto& [name, was] : before) {
    const bool restarted = std::find(expected.begin(), expected.end(), name) != expected.end();
    if (restarted) continue;
    CHECK_MESSAGE(now.at(name).pid == was.pid, name, " got a new process");
    CHECK_MESSAGE(now.at(name).restarts == was.restarts, name, " was restarted");
  }
}

// Polls `status RUN --json` until `instance`'s row satisfies `holds`;
// false after two minutes without.
bool wait_for_row(sandbox& box, const std::string& run, const std::string& instance,
                  const std::function<bool(const json&)>& holds) {
  return eventually(
      [&] {
        const result r = box.procactor({"status", run, "--json"}, 60s);
        const json status = json::parse(r.out, nullptr, false);
        if (status.is_discarded() || !status.contains("actors")) return false;
        for (const auto& a : status["actors"]) {
          if (a["name"] == instance) return holds(a);
        }
        return false;
      },
      120s);
}

std::string log_of(sandbox& box, const std::string& run, const std::string& instance) {
  const result r = box.procactor({"logs", run, instance});
  return r.exit_code == 0 ? r.out : std::string();
}

}  // namespace

TEST_CASE("each strategy restarts exactly its set: one_for_one then one_for_all then rest_for_one" *
          doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("supervised.toml"));
  (void)running_instances(box, run.name, 10);
  const auto rows = rows_of(box, run.name);
  CHECK(rows.at("solo.1").group == "solo");
  CHECK(rows.at("all.1").group == "all");
  CHECK(rows.at("source.0").group == "root");

  // one_for_one: the killed replica alone.
  kill_and_check(box, run.name, "solo.1", {"solo.1"});
  // one_for_all: every replica of the group.
  kill_and_check(box, run.name, "all.1", {"all.0", "all.1", "all.2"});
  // rest_for_one: the killed replica and those started after it.
  kill_and_check(box, run.name, "rest.1", {"rest.1", "rest.2"});

  // The launcher says what the runtime did; it restarts no sibling itself.
  const result log = box.procactor({"logs", run.name});
  CHECK_MESSAGE(
      log.out.find("procactor | all.1 restarting: group all (one_for_all) restarts 3 actors") != std::string::npos,
      log.out);

  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("a nested group that gives up escalates and the launch fails naming the group and the culprit" *
          doctest::timeout(290)) {
  sandbox box;
  auto launch = box.start({"launch", test_graph("nested_gives_up.toml").string()});
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 1, out, launch->err());
  // The group's own report, in the units the file wrote, naming the actor.
  CHECK_MESSAGE(out.find("procactor | group 'inner' gave up: more than 1 restart within 90s; the last was fragile.0 "
                         "(signal 6 (Aborted))\n") != std::string::npos,
                out);
  // The top level's: it went past its limit because the group gave up.
  CHECK_MESSAGE(out.find("procactor | [supervisor] gave up: more than 0 restarts within 1m; the last was group "
                         "'inner' giving up\n") != std::string::npos,
                out);
  // The last line says it all.
  const auto lines = lines_of(out);
  REQUIRE(!lines.empty());
  CHECK_MESSAGE(
      std::regex_match(lines.back(),
                       std::regex(R"(procactor \| graph nested failed after [0-9.]+ s: \[supervisor\] gave up )"
                                  R"(\(more than 0 restarts within 1m\) when group 'inner' \(more than 1 )"
                                  R"(restart within 90s\) gave up; the last exit was fragile\.0's \(signal 6 )"
                                  R"(\(Aborted\)\))"
                                  // and what the give-up left queued
                                  R"(; [0-9]+ messages? became (a )?dead letters? \(.*\))")),
      lines.back());
  // fragile.0 was down when supervision ended, the tick it crashed on
  // twice still queued: that tick and whatever came after it are its dead
  // letters (they vanished without a word). The log told the tick from the
  // rest as its dead letter does ("... while handling the message").
  std::smatch letters;
  CHECK_MESSAGE(
      std::regex_search(out, letters,
                        std::regex(R"((?:^|\n)procactor \| fragile\.0: the message it was handling( and [0-9]+ )"
                                   R"(messages? still queued)? became (a )?dead letters?: it ended for good )"
                                   R"(\(signal 6 \(Aborted\)\)\n)")),
      out);
  CHECK_MESSAGE(lines.back().find("(fragile.0 ") != std::string::npos, lines.back());
  // The group stopped its other member gracefully before escalating.
  CHECK(out.find("steady.0 | steady.0: on_stop ran") != std::string::npos);
  check_run_left_nothing(launch->pid());
  const result status = box.procactor({"status", "nested"});
  CHECK(status.exit_code == 3);
  CHECK_MESSAGE(status.err.find("it ended with exit code 1") != std::string::npos, status.err);
  // The events say it as the launch did (they said "group root", "1min").
  const result events = box.procactor({"events", "nested"});
  CHECK(events.exit_code == 0);
  CHECK_MESSAGE(
      std::regex_search(events.out, std::regex(R"( gave_up +root +\[supervisor\] gave up: more than 0 )"
                                               R"(restarts within 1m; the last was group 'inner' giving up\n)")),
      events.out);
  CHECK_MESSAGE(events.out.find("1min") == std::string::npos, events.out);
}

TEST_CASE("restart is graceful and runs on_stop while --force kills at once and --drain handles the queue first" *
          doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("supervised.toml"));
  (void)running_instances(box, run.name, 10);

  // Graceful (the default): on_stop runs, its line reaches the actor's log,
  // and only this instance gets a new process, whatever its group's strategy.
  kill_and_check(box, run.name, "solo.0", {"solo.0"});  // warms up: a kill is not graceful
  CHECK(log_of(box, run.name, "solo.0").find("on_stop ran") == std::string::npos);
  {
    const auto before = rows_of(box, run.name);
    const result restart = box.procactor({"restart", run.name, "all.2"});
    CHECK_MESSAGE(restart.exit_code == 0, restart.err);
    CHECK_MESSAGE(eventually([&] { return settled(rows_of(box, run.name), before, {"all.2"}); }, 120s),
                  "all.2 was not restarted");
    CHECK(eventually([&] { return log_of(box, run.name, "all.2").find("all.2: on_stop ran") != std::string::npos; },
                     60s));
    const auto after = rows_of(box, run.name);
    CHECK(after.at("all.0").pid == before.at("all.0").pid);
    CHECK(after.at("all.1").pid == before.at("all.1").pid);
  }

  // --force: SIGKILL, so no on_stop.
  {
    const auto before = rows_of(box, run.name);
    const result restart = box.procactor({"restart", run.name, "solo.1", "--force"});
    CHECK_MESSAGE(restart.exit_code == 0, restart.err);
    CHECK(restart.out == "restarting solo.1 (pid " + std::to_string(before.at("solo.1").pid) + "): killed at once\n");
    CHECK_MESSAGE(eventually([&] { return settled(rows_of(box, run.name), before, {"solo.1"}); }, 120s),
                  "solo.1 was not restarted");
    CHECK(log_of(box, run.name, "solo.1").find("on_stop ran") == std::string::npos);
  }

  // --drain: graceful too.
  {
    const auto before = rows_of(box, run.name);
    const result restart = box.procactor({"restart", run.name, "rest.0", "--drain"});
    CHECK_MESSAGE(restart.exit_code == 0, restart.err);
    CHECK(restart.out == "restarting rest.0 (pid " + std::to_string(before.at("rest.0").pid) +
                             ") once it has handled what is queued for it\n");
    CHECK_MESSAGE(eventually([&] { return settled(rows_of(box, run.name), before, {"rest.0"}); }, 120s),
                  "rest.0 was not restarted");
    CHECK(eventually([&] { return log_of(box, run.name, "rest.0").find("rest.0: on_stop ran") != std::string::npos; },
                     60s));
  }

  // What inspect says about them: why each exited.
  const result inspected = box.procactor({"inspect", run.name, "solo", "--json"});
  REQUIRE_MESSAGE(inspected.exit_code == 0, inspected.err);
  const json report = json::parse(inspected.out, nullptr, false);
  REQUIRE_MESSAGE(!report.is_discarded(), inspected.out);
  std::map<std::string, std::string> last_cause;
  for (const auto& instance : report["instances"]) {
    if (!instance["exits"].empty()) {
      last_cause[instance["name"].get<std::string>()] = instance["exits"].back()["cause"].get<std::string>();
    }
  }
  CHECK(last_cause["solo.0"] == "signal 9 sent on request (procactor kill)");
  CHECK(last_cause["solo.1"] == "restart on request (forced)");

  CHECK(box.procactor({"restart", run.name, "nosuch"}).exit_code == 3);
  CHECK(box.procactor({"restart", run.name, "solo.0", "--force", "--drain"}).exit_code == 2);

  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("inspect shows each exit with the message in flight and the stderr tail and the dead letters" *
          doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("poisoned.toml"));
  // Three crashes on tick 3, then tick 3 is a dead letter and fragile.0 runs on.
  const bool poisoned = wait_for_row(box, run.name, "fragile.0", [](const json& a) {
    return a["dead_letters"].get<int>() >= 1 && a["state"] == "running";
  });
  REQUIRE_MESSAGE(poisoned, "fragile.0 never put tick 3 among its dead letters");

  const result as_json = box.procactor({"inspect", run.name, "fragile.0", "--json"});
  REQUIRE_MESSAGE(as_json.exit_code == 0, as_json.err);
  const json report = json::parse(as_json.out, nullptr, false);
  REQUIRE_MESSAGE(!report.is_discarded(), as_json.out);
  CHECK(report["run"] == run.name);
  REQUIRE(report["instances"].size() == 1);
  const json& fragile = report["instances"][0];
  CHECK(fragile["name"] == "fragile.0");
  CHECK(fragile["type"] == "clitest.Worker");
  CHECK(fragile["group"] == "root");
  const json& exits = fragile["exits"];
  REQUIRE_MESSAGE(exits.size() == 3, exits.dump(2));
  for (std::size_t i = 0; i < exits.size(); ++i) {
    CAPTURE(i);
    const json& exit = exits[i];
    CHECK(exit["signal"] == 6);
    CHECK(exit["exit_code"] == -1);
    CHECK(exit["how"].get<std::string>().starts_with("signal 6 (Aborted)"));
    CHECK(exit["cause"] == "crashed");
    REQUIRE(exit["inflight"].is_object());
    CHECK(exit["inflight"]["type"] == "clitest::Tick");
    CHECK(exit["inflight"]["sender"] == "source.0");
    CHECK(exit["inflight"]["attempt"] == i + 1);
    const auto& tail = exit["stderr_tail"];
    CHECK_MESSAGE(std::any_of(tail.begin(), tail.end(),
                              [](const json& line) { return line == "fragile.0: crashing on tick 3"; }),
                  tail.dump(2));
    CHECK(exit["uptime_ms"].is_number_integer());
    CHECK(std::regex_match(exit["at"].get<std::string>(),
                           std::regex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)")));
  }
  const json& letters = fragile["dead_letters"];
  REQUIRE_MESSAGE(letters.size() == 1, letters.dump(2));
  CHECK(letters[0]["type"] == "clitest::Tick");
  CHECK(letters[0]["size"] == 8);
  CHECK(letters[0]["sender"] == "source.0");
  CHECK(letters[0]["attempts"] == 3);
  CHECK(letters[0]["reason"].get<std::string>().find("poisoned") != std::string::npos);
  // Tick{3}: one little-endian int64.
  CHECK(letters[0]["preview_hex"] == "03 00 00 00 00 00 00 00");

  // The same, for a person.
  const result text = box.procactor({"inspect", run.name, "fragile"});
  REQUIRE_MESSAGE(text.exit_code == 0, text.err);
  CHECK_MESSAGE(text.out.starts_with("fragile.0 (clitest.Worker, group root): running, pid "), text.out);
  CHECK(text.out.find("  last 3 exits, oldest first:\n") != std::string::npos);
  // Each exit at its local time, as `events` prints it.
  CHECK_MESSAGE(std::regex_search(text.out, std::regex(R"(\n    [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}  signal 6 \(Aborted\))")),
                text.out);
  CHECK(text.out.find("      in flight: clitest::Tick from source.0, attempt 3\n") != std::string::npos);
  CHECK(text.out.find("        | fragile.0: crashing on tick 3\n") != std::string::npos);
  CHECK(text.out.find("  1 dead letter:\n    clitest::Tick, 8 bytes, from source.0, 3 attempts: ") !=
        std::string::npos);
  CHECK(text.out.find("      03 00 00 00 00 00 00 00\n") != std::string::npos);

  // An instance with nothing to tell, and names that are not there.
  const result source = box.procactor({"inspect", run.name, "source.0"});
  CHECK(source.exit_code == 0);
  CHECK(source.out.find("no exits yet") != std::string::npos);
  CHECK(source.out.find("0 dead letters") != std::string::npos);
  CHECK(box.procactor({"inspect", run.name, "nosuch"}).exit_code == 3);
  CHECK(box.procactor({"inspect", "no-such-run", "fragile"}).exit_code == 3);

  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

// An actor may write any bytes; what inspect (and the dashboard, which asks
// the same) returns is JSON, so a byte that is not UTF-8 becomes U+FFFD
// instead of failing the whole reply.
TEST_CASE("inspect shows a crash whose stderr is not UTF-8" * doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("poisoned.toml");
  {
    std::string text = read_whole(graph);
    const std::string plain = "params = { crash_on = 3 }";
    REQUIRE(text.find(plain) != std::string::npos);
    text.replace(text.find(plain), plain.size(), "params = { crash_on = 3, garbled = true }");
    std::ofstream(graph) << text;
  }
  const auto run = launch_detached(box, graph);
  const bool crashed =
      wait_for_row(box, run.name, "fragile.0", [](const json& a) { return a["restarts"].get<int>() >= 1; });
  REQUIRE_MESSAGE(crashed, "fragile.0 never crashed");

  const std::string replaced = "fragile.0: crashing on tick 3 \uFFFD\uFFFD\uFFFD";
  const result as_json = box.procactor({"inspect", run.name, "fragile.0", "--json"});
  REQUIRE_MESSAGE(as_json.exit_code == 0, as_json.err);
  const json report = json::parse(as_json.out, nullptr, false);
  REQUIRE_MESSAGE(!report.is_discarded(), as_json.out);
  const json& exits = report["instances"][0]["exits"];
  REQUIRE(!exits.empty());
  const auto& tail = exits[0]["stderr_tail"];
  CHECK_MESSAGE(std::any_of(tail.begin(), tail.end(), [&](const json& line) { return line == replaced; }),
                tail.dump(2));

  const result text = box.procactor({"inspect", run.name, "fragile"});
  CHECK_MESSAGE(text.exit_code == 0, text.err);
  CHECK_MESSAGE(text.out.find("        | " + replaced + "\n") != std::string::npos, text.out);

  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

// `restart` of an instance that waits out its restart backoff (here ten
// minutes) starts it now, as OTP's restart_child does; before, the command
// said it had no running process and the backoff went on.
TEST_CASE("restart of an instance waiting out its backoff starts it now" * doctest::timeout(290)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("long_backoff.toml"));
  REQUIRE_MESSAGE(wait_for_row(box, run.name, "worker.0",
                               [](const json& a) { return a["state"] == "restarting" && a["restarts"] == 1; }),
                  "worker.0 never waited out its first backoff");
  const result restarted = box.procactor({"restart", run.name, "worker.0"});
  CHECK_MESSAGE(restarted.exit_code == 0, restarted.err);
  CHECK(restarted.out == "restarting worker.0 now, cutting its restart backoff short\n");
  // It started, got tick 5 again, crashed again: its second backoff.
  REQUIRE_MESSAGE(wait_for_row(box, run.name, "worker.0", [](const json& a) { return a["restarts"] == 2; }),
                  "worker.0 did not start again");
  const result events = box.procactor({"events", run.name});
  CHECK(count_of(events.out, " started    worker.0 ") == 2);
  const result kill = box.procactor({"kill", run.name, "worker.0"});
  CHECK(kill.exit_code == 1);  // nothing to kill while it waits
  CHECK(box.procactor({"stop", run.name}, 120s).exit_code == 0);
  check_run_left_nothing(run.supervisor);
}

// A member of a group's restart that waits for room in the mailbox of the
// member that crashed cannot stop gracefully: that member starts again only
// once the group's members have stopped. It gets SIGTERM at once; before,
// only after the whole shutdown_timeout (here a minute per crash).
TEST_CASE("a group restart stops a member held sending to the crashed member at once and loses nothing" *
          doctest::timeout(290)) {
  sandbox box;
  const result r = box.procactor({"launch", box.copy_graph("held_in_group.toml").string()}, 240s);
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(count_of(r.out, "slow.0: crashing on tick 100") == 3);
  // Held each time (slow takes 2 ms a tick; 1,000 ticks come at once into
  // mailboxes of 4 KiB): relay through mid, then mid; stopped by SIGTERM,
  // said why.
  CHECK(count_of(r.out,
                 "procactor | relay.0: is held sending to mid.0, held sending to slow.0, which starts again "
                 "only after the restart's members have stopped: SIGTERM now, not after the shutdown "
                 "timeout") >= 1);
  CHECK(count_of(r.out,
                 "procactor | mid.0: is held sending to slow.0, which starts again only after the restart's "
                 "members have stopped: SIGTERM now, not after the shutdown timeout") >= 1);
  CHECK(r.out.find("did not stop") == std::string::npos);
  CHECK(r.out.find("gave up") == std::string::npos);
  // Tick 100 is a dead letter (poisoned); every other tick reached the sink.
  CHECK(r.out.find("sink.0 | ticks: 999 distinct, highest 1000, missing 1\n") != std::string::npos);
  CHECK(r.out.find("; 1 message became a dead letter (slow.0 1;") != std::string::npos);
}

// A temporary actor that ends (here by a crash) is left out of its
// senders' routes: the other replicas take its share, and once none is
// left what the route carries becomes dead letters, counted in the last
// line. The source goes on to its end and the run finishes. Before, the
// source's next emit failed with no_such_actor: it crash-looped, starting
// its range again each time, until the root gave up and failed the run.
TEST_CASE("a temporary actor that ends leaves its senders going: the others take its share or it gets dead letters" *
          doctest::timeout(290)) {
  sandbox box;
  const result r = box.procactor({"launch", box.copy_graph("temporary_ends.toml").string()}, 240s);
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("gave up") == std::string::npos);
  CHECK(r.out.find("source.0 restarting") == std::string::npos);
  CHECK(r.out.find("procactor | source.0 exited (exit code 0)") != std::string::npos);
  // One of pair's two crashed on tick 500, lone on tick 700.
  const std::regex pair_crash(R"(pair\.([01]): crashing on tick 500)");
  std::smatch crashed;
  REQUIRE(std::regex_search(r.out, crashed, pair_crash));
  const std::string gone = "pair." + crashed[1].str();
  CHECK(r.out.find("lone.0: crashing on tick 700") != std::string::npos);
  CHECK(r.out.find("source.0 | procactor: source.0: " + gone +
                   " has ended for good: what this actor emits on that route goes to its other targets") !=
        std::string::npos);
  CHECK(r.out.find("source.0 | procactor: source.0: lone.0 has ended for good: what this actor emits on that route "
                   "becomes dead letters, as no target of it is left") != std::string::npos);
  // Every tick reached its sink or is a dead letter of the actor that
  // ended: lone.0's are tick 700 (in hand) and every later one; the crashed
  // pair's, tick 500 and what was queued for it.
  const std::regex tally(R"(\n(sink|tail)\.0 \| ticks: ([0-9]+) distinct, highest ([0-9]+), missing ([0-9]+)\n)");
  std::map<std::string, std::array<long, 3>> ticks;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), tally); it != std::sregex_iterator(); ++it) {
    ticks[(*it)[1]] = {std::stol((*it)[2]), std::stol((*it)[3]), std::stol((*it)[4])};
  }
  REQUIRE(ticks.size() == 2);
  CHECK(ticks["tail"] == std::array<long, 3>{699, 699, 0});
  const std::regex last(R"(procactor \| graph temporary-ends finished in [0-9.]+ s; ([0-9]+) messages became dead )"
                        R"(letters \(([^;]*); `procactor inspect)");
  std::smatch letters;
  REQUIRE(std::regex_search(r.out, letters, last));
  const std::string per_actor = letters[2];
  std::map<std::string, long> lost;  // "pair.1 264, lone.0 1301"
  const std::regex one(R"(([a-z]+\.[0-9]+) ([0-9]+))");
  for (auto it = std::sregex_iterator(per_actor.begin(), per_actor.end(), one); it != std::sregex_iterator(); ++it) {
    lost[(*it)[1]] = std::stol((*it)[2]);
  }
  REQUIRE(lost.size() == 2);
  CHECK(lost["lone.0"] == 1301);
  CHECK(lost[gone] + ticks["sink"][0] == 2000);
  CHECK(std::stol(letters[1]) == 1301 + lost[gone]);
  CHECK(ticks["sink"][1] == 2000);
  // What the pair's survivor passed on, the sink has: each of its ticks once.
  const result inspected = box.procactor({"inspect", "temporary-ends", gone, "--json"});
  CHECK_MESSAGE(inspected.out.find("ended for good") != std::string::npos, inspected.out, inspected.err);
}

TEST_CASE("validate reports group errors at their line" * doctest::timeout(50)) {
  sandbox box;
  const std::string file = source_graph("bad_groups.toml").string();
  const result r = box.procactor({"validate", "--file-only", file});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK_MESSAGE(r.err.find(file + ":8:10: error: unknown parent group 'stages' for group 'pipeline' (did you mean "
                                  "'stage'?)") != std::string::npos,
                r.err);
  CHECK_MESSAGE(r.err.find(file + ":11:10: error: group parents form a cycle: stage -> late -> stage") !=
                    std::string::npos,
                r.err);
  CHECK_MESSAGE(r.err.find(file + ":19:9: error: unknown group 'pipelin' for actor 'source' (did you mean "
                                  "'pipeline'?)") != std::string::npos,
                r.err);
  // And nothing starts from it.
  CHECK(box.procactor({"launch", file}).exit_code == 2);
  CHECK(!fs::exists(box.runs_root()));
}

}  // namespace cli
