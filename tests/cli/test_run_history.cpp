// What a run leaves to be read while it runs and after it: `ls` of every
// run, the final table `status` prints of an ended one, log lines with
// their times (merged across replicas, -n, --since, -f), the event stream,
// and the state directory all of it lives in.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

const std::regex iso_time(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})");


void launch_to_end(sandbox& box, const fs::path& graph) {
  auto launch = box.start({"launch", graph.string()});
  const int code = launch->wait(240s);
  REQUIRE_MESSAGE(code == 0, launch->out(), launch->err());
}

// A row of `ls`: its columns as text ("-" when unknown).
struct ls_row {
  std::string name, state, started, duration, actors, restarts, exit;
};

std::vector<ls_row> ls_rows(sandbox& box) {
  const result r = box.procactor({"ls"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto lines = lines_of(r.out);
  REQUIRE(!lines.empty());
  CHECK(std::regex_match(lines.front(), std::regex("NAME +STATE +STARTED +DURATION +ACTORS +RESTARTS +EXIT")));
  std::vector<ls_row> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::istringstream in(lines[i]);
    ls_row row;
    std::string time;
    in >> row.name >> row.state >> row.started;
    if (row.started != "-") {
      in >> time;
      row.started += " " + time;
    }
    in >> row.duration >> row.actors >> row.restarts >> row.exit;
    CHECK_MESSAGE(!in.fail(), lines[i]);
    rows.push_back(row);
  }
  return rows;
}

int restarts_of(sandbox& box, const std::string& run, const std::string& instance) {
  const result r = box.procactor({"status", run, "--json"}, 60s);
  const json status = json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || status.is_discarded()) return -1;
  for (const auto& row : status["actors"]) {
    if (row["name"] == instance && row["state"] == "running") return row["restarts"].get<int>();
  }
  return -1;
}

// The lines `logs` prints of a replicated actor: "talker.1 | STAMP talker.1 line 7".
struct talker_line {
  std::string instance;
  std::string stamp;
  long n = 0;
};

std::vector<talker_line> talker_lines(const std::string& text) {
  static const std::regex shape(
      R"(^(talker\.[0-2]) \| ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}) (talker\.[0-2]) line ([0-9]+)$)");
  std::vector<talker_line> lines;
  for (const auto& line : lines_of(text)) {
    std::smatch match;
    REQUIRE_MESSAGE(std::regex_match(line, match, shape), line);
    CHECK(match[1] == match[3]);
    lines.push_back({match[1], match[2], std::stol(match[4])});
  }
  return lines;
}

// In time order, and each replica's lines all there, 1, 2, 3... in order.
void check_merged(const std::vector<talker_line>& lines) {
  std::map<std::string, long> last;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) CHECK_MESSAGE(lines[i - 1].stamp <= lines[i].stamp, "line ", i, " is older than the one before");
    CHECK_MESSAGE(lines[i].n == last[lines[i].instance] + 1, lines[i].instance, " line ", lines[i].n);
    last[lines[i].instance] = lines[i].n;
  }
}

}  // namespace

TEST_CASE("ls lists live and ended and died runs newest first with their states and counts" *
          doctest::timeout(590)) {
  sandbox box;
  // Ended: a run that finished on its own.
  launch_to_end(box, quick_primes(box));
  // Died: its supervisor killed with kill -9.
  const fs::path graph = box.copy_graph("endless.toml");
  const auto dead = launch_detached(box, graph);
  (void)running_instances(box, dead.name, 4);
  REQUIRE(::kill(dead.supervisor, SIGKILL) == 0);
  check_run_left_nothing(dead.supervisor);
  // Live: the next run of the same graph (the dead one moves aside as
  // endless.1), with one restart.
  const auto live = launch_detached(box, graph);
  const auto pids = running_instances(box, live.name, 4);
  REQUIRE(box.procactor({"kill", live.name, "worker.0"}).exit_code == 0);
  REQUIRE_MESSAGE(eventually([&] { return restarts_of(box, live.name, "worker.0") == 1; }, 120s),
                  "worker.0 was not restarted");

  auto rows = ls_rows(box);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].name == "endless");
  CHECK(rows[0].state == "live");
  CHECK(rows[0].actors == "4");
  CHECK(rows[0].restarts == "1");
  CHECK(rows[0].exit == "-");
  CHECK(rows[0].duration != "-");
  CHECK(rows[1].name == "endless.1");
  CHECK(rows[1].state == "died");
  CHECK(rows[1].actors == "-");
  CHECK(rows[1].restarts == "-");
  CHECK(rows[1].duration == "-");
  CHECK(rows[1].exit == "-");
  CHECK(rows[2].name == "primes-small");
  CHECK(rows[2].state == "ended");
  CHECK(rows[2].actors == "4");
  CHECK(rows[2].restarts == "0");
  CHECK(rows[2].exit == "0");
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(std::regex_match(row.started, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")));
  }

  // --json: the same runs, numbers as numbers, times twice.
  const result listed = box.procactor({"ls", "--json"});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const json all = json::parse(listed.out, nullptr, false);
  REQUIRE_MESSAGE(all.is_array(), listed.out);
  REQUIRE(all.size() == 3);
  CHECK(all[0]["name"] == "endless");
  CHECK(all[0]["state"] == "live");
  CHECK(all[0]["actors"] == 4);
  CHECK(all[0]["restarts"] == 1);
  CHECK(all[0]["exit_code"].is_null());
  CHECK(all[0]["ended_ms"].is_null());
  CHECK(all[0]["duration_ms"].is_number_integer());
  CHECK(all[0]["supervisor_pid"] == live.supervisor);
  CHECK(all[0]["graph"] == "endless");
  CHECK(all[0]["file"] == graph.string());
  CHECK(all[1]["state"] == "died");
  CHECK(all[1]["actors"].is_null());
  CHECK(all[1]["duration_ms"].is_null());
  CHECK(all[2]["state"] == "ended");
  CHECK(all[2]["exit_code"] == 0);
  CHECK(all[2]["actors"] == 4);
  CHECK(all[2]["ended_ms"].is_number_integer());
  CHECK(all[2]["ended_ms"].get<std::int64_t>() >= all[2]["started_ms"].get<std::int64_t>());
  CHECK(all[2]["duration_ms"] == all[2]["ended_ms"].get<std::int64_t>() - all[2]["started_ms"].get<std::int64_t>());
  CHECK(std::regex_match(all[2]["ended"].get<std::string>(), iso_time));
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    CHECK(std::regex_match(all[i]["started"].get<std::string>(), iso_time));
    CHECK(all[i]["started_ms"].is_number_integer());
    if (i > 0) CHECK(all[i - 1]["started_ms"].get<std::int64_t>() > all[i]["started_ms"].get<std::int64_t>());
  }

  // Once stopped, the live run is an ended one: its counts are the ones it
  // recorded as it ended.
  const result stop = box.procactor({"stop", live.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  rows = ls_rows(box);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].name == "endless");
  CHECK(rows[0].state == "ended");
  CHECK(rows[0].actors == "4");
  CHECK(rows[0].restarts == "1");
  CHECK(rows[0].exit == "0");
  std::vector<pid_t> actor_pids;
  for (const auto& [name, pid] : pids) actor_pids.push_back(pid);
  check_run_left_nothing(live.supervisor, actor_pids);
}

TEST_CASE("status of an ended run prints its final table and the exit code it ended with" *
          doctest::timeout(290)) {
  sandbox box;
  launch_to_end(box, quick_primes(box));

  const result table = box.procactor({"status", "primes-small"});
  // Not running: exit code 3 and the reason on stderr, as for every
  // command on an ended run; its last table on stdout.
  CHECK(table.exit_code == 3);
  CHECK_MESSAGE(table.err.find("run primes-small is not running (it ended with exit code 0)") != std::string::npos,
                table.err);
  const auto lines = lines_of(table.out);
  REQUIRE_MESSAGE(lines.size() == 8, table.out);
  CHECK(lines[0] == "run primes-small (graph primes-small)");
  CHECK(lines[1].starts_with("ACTOR "));
  const std::vector<std::string> instances = {"source.0", "worker.0", "worker.1", "sink.0"};
  for (std::size_t i = 0; i < instances.size(); ++i) {
    CHECK_MESSAGE(lines[2 + i].starts_with(instances[i] + " "), lines[2 + i]);
    CHECK_MESSAGE(lines[2 + i].find(" exited ") != std::string::npos, lines[2 + i]);
    // No process, so no uptime (not "0.0s").
    CHECK_MESSAGE(lines[2 + i].find(" exited  - ") != std::string::npos, lines[2 + i]);
  }
  // What the run had at its end: its shared memory is gone now.
  CHECK_MESSAGE(lines[6].starts_with("shared memory at the end "), lines[6]);
  CHECK_MESSAGE(std::regex_match(lines[7], std::regex(R"(run primes-small ended at [0-9]{4}-[0-9]{2}-[0-9]{2}T)"
                                                      R"([0-9:]{8}\.[0-9]{3} after \S+ with exit code 0)")),
                lines[7]);

  const result as_json = box.procactor({"status", "primes-small", "--json"});
  CHECK(as_json.exit_code == 3);
  const json status = json::parse(as_json.out, nullptr, false);
  REQUIRE_MESSAGE(!status.is_discarded(), as_json.out);
  CHECK(status["run"] == "primes-small");
  CHECK(status["run_state"] == "ended");
  CHECK(status["exit_code"] == 0);
  CHECK(status["ended_ms"].is_number_integer());
  CHECK(std::regex_match(status["ended"].get<std::string>(), iso_time));
  REQUIRE(status["actors"].size() == instances.size());
  for (std::size_t i = 0; i < instances.size(); ++i) {
    CHECK(status["actors"][i]["name"] == instances[i]);
    CHECK(status["actors"][i]["state"] == "exited");
    CHECK(status["actors"][i]["restarts"] == 0);
  }
  // Every number the sink summed went through a worker.
  CHECK(status["actors"][1]["processed"].get<std::int64_t>() + status["actors"][2]["processed"].get<std::int64_t>() >
        0);
  // Each instance's rate is its average from its spawn to its exit (it was
  // 0 for every one: no process, no uptime).
  CHECK(status["actors"][3]["processed"].get<std::int64_t>() > 0);
  CHECK(status["actors"][3]["msgs_per_s"].get<double>() > 0);

  // Without a run name, still only a live run (or one that died) is meant.
  const result unnamed = box.procactor({"status"});
  CHECK(unnamed.exit_code == 3);
  CHECK(unnamed.out.empty());
  CHECK_MESSAGE(unnamed.err.find("no run is active") != std::string::npos, unnamed.err);

  // Moved aside by the next run, it is primes-small.1, and says so (its
  // table was recorded as primes-small's).
  launch_to_end(box, quick_primes(box));
  const result earlier = box.procactor({"status", "primes-small.1"});
  CHECK(earlier.exit_code == 3);
  CHECK_MESSAGE(earlier.out.starts_with("run primes-small.1 (graph primes-small)\n"), earlier.out);
  CHECK_MESSAGE(earlier.out.find("\nrun primes-small.1 ended at ") != std::string::npos, earlier.out);
  const json earlier_json = json::parse(box.procactor({"status", "primes-small.1", "--json"}).out, nullptr, false);
  CHECK(earlier_json["run"] == "primes-small.1");
}

TEST_CASE("log lines carry their time and logs of a replicated actor merges them in time order with -n and --since" *
          doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("talkers.toml"));
  // Both replicas have printed a while, side by side.
  const auto lines_in = [&](const std::string& instance) {
    return lines_of(box.procactor({"logs", run.name, instance}).out).size();
  };
  REQUIRE_MESSAGE(eventually([&] { return lines_in("talker.0") >= 50 && lines_in("talker.1") >= 50; }, 120s),
                  "the talkers did not print");
  // The detached supervisor's own output file has what it printed until
  // the run was ready; after that its lines are in run.log alone, so the
  // file does not grow with the actors' output (it grew without bound).
  const fs::path launch_log = box.runs_root() / run.name / "launch.log";
  const auto launch_log_size = fs::file_size(launch_log);
  const std::size_t printed = lines_in("talker.0");
  REQUIRE(eventually([&] { return lines_in("talker.0") >= printed + 50; }, 120s));
  CHECK(fs::file_size(launch_log) == launch_log_size);
  // -f from now until the run has ended, and what a replica that `scale`
  // adds meanwhile writes too.
  auto follow = box.start({"logs", run.name, "talker", "-f"});
  follow->wait_for_output("talker.1 line ", 120s);
  const result scaled = box.procactor({"scale", run.name, "talker", "3"});
  REQUIRE_MESSAGE(scaled.exit_code == 0, scaled.err);
  follow->wait_for_output("talker.2 line ", 120s);

  // The dashboard's /api/actor: an instance's last log lines, and for the
  // whole actor every replica's, each after its instance (fetched with
  // Python's standard library, in /usr/bin/python3 as everywhere else).
  {
    const auto [dashboard, url] = start_dashboard(box, run.name);
    const auto tail_of = [&](const std::string& name) {
      const result got = box.program({"/usr/bin/python3", "-c",
                                      "import sys, urllib.request; "
                                      "sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                      url + "api/actor?name=" + name});
      REQUIRE_MESSAGE(got.exit_code == 0, got.err);
      const json body = json::parse(got.out, nullptr, false);
      REQUIRE_MESSAGE(body.contains("log_tail"), got.out);
      return body["log_tail"].get<std::vector<std::string>>();
    };
    const auto instance = tail_of("talker.1");
    CHECK(instance.size() == 50);
    for (const auto& line : instance) CHECK_MESSAGE(unstamped(line).starts_with("talker.1 line "), line);
    const auto actor = tail_of("talker");
    CHECK(actor.size() == 50);
    std::set<std::string> instances;
    for (const auto& line : actor) {
      const auto bar = line.find(" | ");
      REQUIRE_MESSAGE(bar != std::string::npos, line);
      instances.insert(line.substr(0, bar));
      CHECK_MESSAGE(unstamped(line.substr(bar + 3)).starts_with(line.substr(0, bar) + " line "), line);
    }
    CHECK(instances.size() >= 2);  // the three print side by side
    // No such actor: a 404 whose error says so once.
    const result missing =
        box.program({"/usr/bin/python3", "-c",
                     "import sys, json, urllib.request, urllib.error\n"
                     "try: urllib.request.urlopen(sys.argv[1])\n"
                     "except urllib.error.HTTPError as e: print(e.code, json.loads(e.read())['error'])",
                     url + "api/actor?name=nosuch"});
    CHECK_MESSAGE(missing.out == "404 no actor 'nosuch' in run " + run.name + "\n", missing.out, missing.err);
    dashboard->signal(SIGINT);
    CHECK(dashboard->wait(60s) == 0);
  }

  const result stop = box.procactor({"stop", run.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
  CHECK(follow->wait(120s) == 0);

  // One instance: its file's lines, each after its time.
  const result one = box.procactor({"logs", run.name, "talker.1"});
  CHECK(one.exit_code == 0);
  const auto own = lines_of(unstamped(one.out));
  REQUIRE(own.size() >= 50);
  for (std::size_t i = 0; i < own.size(); ++i) CHECK(own[i] == "talker.1 line " + std::to_string(i + 1));

  // The whole actor: both files merged in time order, each line prefixed
  // with its instance.
  const result whole = box.procactor({"logs", run.name, "talker"});
  CHECK(whole.exit_code == 0);
  const auto merged = talker_lines(whole.out);
  check_merged(merged);
  CHECK(merged.size() == own.size() + lines_of(box.procactor({"logs", run.name, "talker.0"}).out).size() +
                           lines_of(box.procactor({"logs", run.name, "talker.2"}).out).size());
  // Not one file after the other: a line of talker.0 comes after one of talker.1.
  std::size_t first_of_1 = 0;
  while (first_of_1 < merged.size() && merged[first_of_1].instance != "talker.1") ++first_of_1;
  CHECK(std::any_of(merged.begin() + static_cast<std::ptrdiff_t>(first_of_1), merged.end(),
                    [](const talker_line& line) { return line.instance == "talker.0"; }));

  // -f printed the same lines, in time order too.
  const auto followed = talker_lines(follow->out());
  check_merged(followed);
  CHECK(followed.size() == merged.size());

  // The run's own log: every line after its time.
  const result run_log = box.procactor({"logs", run.name});
  CHECK(run_log.exit_code == 0);
  const std::string plain = unstamped(run_log.out);
  CHECK_MESSAGE(plain.find("procactor | talker.1 started (pid ") != std::string::npos, plain);
  CHECK_MESSAGE(plain.find("talker.0 | talker.0 line 1\n") != std::string::npos, plain);

  // -n N and --tail N: the last N of the merged lines.
  const auto all_lines = lines_of(whole.out);
  for (const std::string option : {"-n", "--tail"}) {
    CAPTURE(option);
    const result last = box.procactor({"logs", run.name, "talker", option, "5"});
    CHECK(last.exit_code == 0);
    CHECK(lines_of(last.out) == std::vector<std::string>(all_lines.end() - 5, all_lines.end()));
  }

  // --since TIME: the lines written at or after it; --since DURATION: back
  // from now (the whole run is younger than an hour).
  const std::string middle = merged[merged.size() / 2].stamp;
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (merged[i].stamp >= middle) expected.push_back(all_lines[i]);
  }
  const result since_time = box.procactor({"logs", run.name, "talker", "--since", middle});
  CHECK(since_time.exit_code == 0);
  CHECK(lines_of(since_time.out) == expected);
  CHECK(expected.size() < all_lines.size());
  const result since_hour = box.procactor({"logs", run.name, "talker", "--since", "1h"});
  CHECK(since_hour.out == whole.out);
  const result since_future = box.procactor({"logs", run.name, "talker", "--since", "2999-01-01"});
  CHECK(since_future.exit_code == 0);
  CHECK(since_future.out.empty());
  const result both = box.procactor({"logs", run.name, "talker", "--since", middle, "-n", "3"});
  CHECK(lines_of(both.out) == std::vector<std::string>(expected.end() - 3, expected.end()));
  const result bad = box.procactor({"logs", run.name, "talker", "--since", "soon"});
  CHECK(bad.exit_code == 2);
  CHECK_MESSAGE(bad.err.find("neither a duration") != std::string::npos, bad.err);
}

TEST_CASE("events lists started and exited and restarting after a kill and events --json lines parse" *
          doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  const auto pids = running_instances(box, run.name, 4);
  auto follow = box.start({"events", run.name, "-f"});
  const pid_t victim = pids.at("worker.0");
  REQUIRE(box.procactor({"kill", run.name, "worker.0"}).exit_code == 0);

  std::string text;
  const std::regex restarted(R"(\n\S+ started +worker\.0 +pid ([0-9]+): clitest\.Relay\n)");
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        text = "\n" + box.procactor({"events", run.name}).out;
                        return std::distance(std::sregex_iterator(text.begin(), text.end(), restarted),
                                             std::sregex_iterator()) == 2;
                      },
                      120s),
                  text);
  // Time, kind, actor, then the pid and what happened.
  CHECK_MESSAGE(std::regex_search(text, std::regex(R"(\n[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3} exited +worker\.0 +pid )" +
                                                   std::to_string(victim) + R"(: signal 9)")),
                text);
  CHECK_MESSAGE(std::regex_search(text, std::regex(R"(\n\S+ restarting +worker\.0 +\S)")), text);
  CHECK_MESSAGE(std::regex_search(text, std::regex(R"(\n\S+ ready +- +4 actors ready in )")), text);
  for (const auto& [name, pid] : pids) {
    CHECK_MESSAGE(text.find(" started    " + name) != std::string::npos, name);
  }

  // --json: the lines as the run wrote them, each an object with the
  // documented fields.
  const result raw = box.procactor({"events", run.name, "--json"});
  CHECK(raw.exit_code == 0);
  std::map<std::string, int> kinds;
  for (const auto& line : lines_of(raw.out)) {
    const json event = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(event.is_object(), line);
    CHECK(event["time_ms"].is_number_integer());
    CHECK(std::regex_match(event["time"].get<std::string>(), iso_time));
    CHECK(event["kind"].is_string());
    CHECK(event["actor"].is_string());
    CHECK(event["pid"].is_number_integer());
    CHECK(event["detail"].is_string());
    ++kinds[event["kind"].get<std::string>()];
    if (event["kind"] == "exited") {
      CHECK(event["actor"] == "worker.0");
      CHECK(event["pid"] == victim);
    }
  }
  CHECK(kinds["started"] == 5);
  CHECK(kinds["exited"] == 1);
  CHECK(kinds["restarting"] == 1);
  CHECK(kinds["ready"] == 1);

  // The end of the run is its last event; -f has seen it all, and ends with it.
  const result stop = box.procactor({"stop", run.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(follow->wait(120s) == 0);
  const auto followed = lines_of(follow->out());
  REQUIRE(!followed.empty());
  CHECK_MESSAGE(std::regex_search(followed.back(), std::regex(R"(^\S+ finished +- +graph endless stopped after .* \(exit code 0\)$)")),
                followed.back());
  const auto after = lines_of(box.procactor({"events", run.name}).out);
  CHECK(followed == after);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("the state directory is the one PROCACTOR_STATE_DIR names and outlives the run" * doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = quick_primes(box);
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  launch_to_end(box, graph);

  // The run's directory and records, in PROCACTOR_STATE_DIR (0700), none of
  // it in XDG_RUNTIME_DIR.
  const fs::path dir = box.runs_root() / "primes-small";
  struct stat info {};
  REQUIRE(::stat(box.runs_root().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
  for (const char* record : {"started", "graph", "exit", "final_status.json", "events.jsonl", "run.log",
                             "supervisor.pid", "logs/sink.0.log"}) {
    CHECK_MESSAGE(fs::exists(dir / record), record);
  }
  CHECK(fs::is_empty(box.runtime_dir()));
  std::int64_t started = 0;
  std::ifstream(dir / "started") >> started;
  CHECK(started >= before);
  CHECK(started <= std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  std::ifstream graph_record(dir / "graph");
  std::string name, file;
  std::getline(graph_record, name);
  std::getline(graph_record, file);
  CHECK(name == "primes-small");
  CHECK(file == graph.string());

  // Without PROCACTOR_STATE_DIR: $XDG_STATE_HOME/procactor, else
  // $HOME/.local/state/procactor, made 0700 with what is missing above it.
  const fs::path state_home = box.dir() / "xdg-state";
  const result xdg = box.program({"/usr/bin/env", "-u", "PROCACTOR_STATE_DIR", "XDG_STATE_HOME=" + state_home.string(),
                                  procactor_binary().string(), "launch", graph.string()},
                                 240s);
  REQUIRE_MESSAGE(xdg.exit_code == 0, xdg.out, xdg.err);
  CHECK(fs::exists(state_home / "procactor" / "primes-small" / "exit"));
  REQUIRE(::stat((state_home / "procactor").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
  const fs::path home = box.dir() / "home";
  const result listed = box.program({"/usr/bin/env", "-u", "PROCACTOR_STATE_DIR", "-u", "XDG_STATE_HOME",
                                     "HOME=" + home.string(), procactor_binary().string(), "ls", "--json"});
  CHECK_MESSAGE(listed.exit_code == 0, listed.err);
  CHECK(listed.out == "[]\n");
  REQUIRE(::stat((home / ".local" / "state" / "procactor").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);

  // A directory whose runs' control sockets would not fit in a socket path:
  // refused before anything starts, naming the variable to set.
  const std::string deep = (box.dir() / std::string(100, 'd')).string();
  const result too_long = box.program({"/usr/bin/env", "PROCACTOR_STATE_DIR=" + deep, procactor_binary().string(),
                                       "launch", graph.string()});
  CHECK(too_long.exit_code == 2);  // a setting to change, as any other bad setting
  CHECK_MESSAGE(too_long.err.find("set PROCACTOR_STATE_DIR to a shorter directory") != std::string::npos,
                too_long.err);
  CHECK(!fs::exists(fs::path(deep) / "primes-small"));
  CHECK(descendants().empty());
  // One that others may read is refused too, the same way.
  const fs::path open_dir = box.dir() / "open-state";
  fs::create_directory(open_dir);
  fs::permissions(open_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  const result readable = box.program({"/usr/bin/env", "PROCACTOR_STATE_DIR=" + open_dir.string(),
                                       procactor_binary().string(), "launch", graph.string()});
  CHECK(readable.exit_code == 2);
  CHECK_MESSAGE(readable.err.find(open_dir.string() + " must be a 0700 directory owned by you") != std::string::npos,
                readable.err);
  CHECK(!fs::exists(open_dir / "primes-small"));

  // What the first run left is still there and still read.
  const result log = box.procactor({"logs", "primes-small", "sink.0"});
  CHECK(unstamped(log.out) == "total: " + std::to_string(primes_between(2, 2000)) + "\n");
}

TEST_CASE("with several runs live a command without a run name asks for one and exits 2" * doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  const auto first = launch_detached(box, graph);
  const auto second = launch_detached(box, graph);
  CHECK(first.name == "endless");
  CHECK(second.name == "endless-2");
  for (const std::vector<std::string>& command : {std::vector<std::string>{"status"}, {"stop"}}) {
    const result r = box.procactor(command);
    CHECK_MESSAGE(r.exit_code == 2, command.front(), ": ", r.err);
    CHECK_MESSAGE(r.err.find("several runs are active; name one:") != std::string::npos, r.err);
  }
  // Both are still there, and each stops by its name.
  for (const auto& run : {first, second}) {
    const result stopped = box.procactor({"stop", run.name}, 240s);
    CHECK_MESSAGE(stopped.exit_code == 0, stopped.err);
    check_run_left_nothing(run.supervisor);
  }
}

}  // namespace cli
