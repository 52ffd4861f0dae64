// What a run that goes on for a long time keeps of its events: events.jsonl
// is rotated as the logs are (PROCACTOR_LOG_ROTATE_SIZE, small here, stands
// for days of restarts), `events -f` reads each event once across the
// rotations, and a dashboard keeps only the newest.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace cli {
namespace {

using json = nlohmann::json;

// `launch --detach GRAPH` with PROCACTOR_LOG_ROTATE_SIZE=SIZE, which the
// sandbox leaves out of what it passes on.
detached_run launch_rotating(sandbox& box, const fs::path& graph, const std::string& size) {
  const result launched = box.program({"/usr/bin/env", "PROCACTOR_LOG_ROTATE_SIZE=" + size, procactor_binary().string(),
                                       "launch", "--detach", graph.string()},
                                      120s);
  REQUIRE_MESSAGE(launched.exit_code == 0, launched.out, launched.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(launched.out, match, std::regex(R"(started run (\S+) \(pid ([0-9]+)\))")),
                  launched.out);
  return {match[1], static_cast<pid_t>(std::stoi(match[2]))};
}

// N of each "restart N in ..." event, in the order given.
std::vector<std::int64_t> restart_numbers(const std::vector<json>& events) {
  std::vector<std::int64_t> numbers;
  const std::regex restart(R"(^restart ([0-9]+) in )");
  for (const auto& event : events) {
    if (event["kind"] != "restarting") continue;
    std::smatch match;
    const std::string detail = event["detail"].get<std::string>();
    REQUIRE_MESSAGE(std::regex_search(detail, match, restart), detail);
    numbers.push_back(std::stoll(match[1]));
  }
  return numbers;
}

std::vector<json> parsed_lines(const std::vector<std::string>& lines) {
  std::vector<json> events;
  for (const auto& line : lines) {
    json event = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(event.is_object(), line);
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace

TEST_CASE(
    "events.jsonl is rotated past PROCACTOR_LOG_ROTATE_SIZE and events -f reads every event once across its rotations" *
    doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_rotating(box, box.copy_graph("churning.toml"), "16KiB");
  const fs::path dir = box.runs_root() / run.name;
  auto follow = box.start({"events", run.name, "-f", "--json"});
  // Rotated three times at least, so the oldest file goes at the next, and
  // several hundred events followed meanwhile (a file holds about forty).
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(dir / "events.jsonl.3"); }, 240s),
                  "events.jsonl was not rotated: ", fs::file_size(dir / "events.jsonl"), " bytes");
  REQUIRE_MESSAGE(eventually([&] { return lines_of(follow->out()).size() >= 600; }, 240s), follow->out());
  // What a late reader gets while the run goes on: every file rotation kept.
  const auto kept = lines_of(box.procactor({"events", run.name, "--json"}).out);

  const result stop = box.procactor({"stop", run.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(follow->wait(120s) == 0);
  check_run_left_nothing(run.supervisor);

  // Each event once, in order: the restarts are numbered 1, 2, 3, ...
  const auto followed = lines_of(follow->out());
  const auto events = parsed_lines(followed);
  CHECK(std::set<std::string>(followed.begin(), followed.end()).size() == followed.size());
  const auto numbers = restart_numbers(events);
  REQUIRE(numbers.size() >= 30);
  for (std::size_t i = 0; i < numbers.size(); ++i) REQUIRE_MESSAGE(numbers[i] == std::int64_t(i) + 1, i);
  CHECK(events.front()["kind"] == "started");
  CHECK(events.back()["kind"] == "finished");

  // The late reader's lines are a stretch of them, which no longer starts
  // with the first (its file is gone), and so are the files left.
  REQUIRE(!kept.empty());
  const auto at = std::find(followed.begin(), followed.end(), kept.front());
  REQUIRE(at != followed.end());
  CHECK(at != followed.begin());
  REQUIRE(static_cast<std::size_t>(followed.end() - at) >= kept.size());
  CHECK(std::equal(kept.begin(), kept.end(), at));
  const auto left = lines_of(box.procactor({"events", run.name, "--json"}).out);
  REQUIRE(left.size() < followed.size());
  CHECK(std::equal(left.begin(), left.end(), followed.end() - static_cast<std::ptrdiff_t>(left.size())));
  // Three rotated files are kept, each its size and at most a line over.
  CHECK(!fs::exists(dir / "events.jsonl.4"));
  for (const char* file : {"events.jsonl.1", "events.jsonl.2", "events.jsonl.3"}) {
    CHECK_MESSAGE(fs::file_size(dir / file) <= 16384 + 1024, file);
  }
}

TEST_CASE("the dashboard keeps only the newest events and its replies say where they start" * doctest::timeout(590)) {
  sandbox box;
  const auto run = launch_rotating(box, box.copy_graph("churning.toml"), "16KiB");
  const auto [dashboard, url] = start_dashboard(box, run.name);
  const auto events_after = [&](std::uint64_t after) {
    const result got = box.program({"/usr/bin/python3", "-c",
                                    "import sys, urllib.request; "
                                    "sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                    url + "api/events?after=" + std::to_string(after)});
    REQUIRE_MESSAGE(got.exit_code == 0, got.err);
    json body = json::parse(got.out, nullptr, false);
    REQUIRE_MESSAGE(body.is_object(), got.out);
    REQUIRE_MESSAGE(body["events"].is_array(), got.out);
    return body;
  };

  // Past the thousand it keeps, the oldest are gone: a reply from the
  // first says after which event it starts, and where to go on from.
  json first;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        first = events_after(0);
                        return first.value("after", std::uint64_t{0}) > 0;
                      },
                      300s),
                  first["events"].size(), " events, from the first");
  const auto& kept = first["events"];
  CHECK(kept.size() == 1000);
  CHECK(first["next"].get<std::uint64_t>() == first["after"].get<std::uint64_t>() + kept.size());
  const auto numbers = restart_numbers(std::vector<json>(kept.begin(), kept.end()));
  REQUIRE(!numbers.empty());
  for (std::size_t i = 1; i < numbers.size(); ++i) CHECK(numbers[i] == numbers[i - 1] + 1);

  // From its `next` on: only events that came later.
  json second;
  REQUIRE(eventually(
      [&] {
        second = events_after(first["next"].get<std::uint64_t>());
        return !second["events"].empty();
      },
      120s));
  CHECK(second["after"].get<std::uint64_t>() >= first["next"].get<std::uint64_t>());
  CHECK(second["next"].get<std::uint64_t>() == second["after"].get<std::uint64_t>() + second["events"].size());
  const auto later = restart_numbers(std::vector<json>(second["events"].begin(), second["events"].end()));
  if (!later.empty()) CHECK(later.front() > numbers.back());
  for (const auto& event : second["events"]) CHECK(event["time_ms"] >= kept.back()["time_ms"]);

  // A count past all there is (a page left open across a restart of the
  // dashboard): nothing, and the count to go on from.
  const json beyond = events_after(std::uint64_t{1} << 40U);
  CHECK(beyond["events"].empty());
  CHECK(beyond["after"].get<std::uint64_t>() < (std::uint64_t{1} << 40U));
  CHECK(beyond["next"] == beyond["after"]);

  dashboard->signal(SIGINT);
  CHECK(dashboard->wait(60s) == 0);
  const result stop = box.procactor({"stop", run.name}, 120s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

}  // namespace cli
