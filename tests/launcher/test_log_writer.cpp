// log_writer.hpp: the stamps of log lines, their rotation by size, and a
// follower that reads on across a rotation.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "log_writer.hpp"

using namespace procactor::launcher;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A private directory, removed with what is in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "procactor-log-writer-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::vector<std::string> lines_in(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "line 0007": 9 bytes, and a newline.
std::string numbered(int n) {
  std::string digits = std::to_string(n);
  return "line " + std::string(4 - digits.size(), '0') + digits;
}

}  // namespace

TEST_CASE("a stamp is local time to the millisecond and reads back as the same time") {
  const auto now = wall_clock::now();
  const std::string stamp = local_timestamp(now);
  REQUIRE(stamp.size() == timestamp_length);
  CHECK(stamp[4] == '-');
  CHECK(stamp[10] == 'T');
  CHECK(stamp[19] == '.');
  const auto back = parse_local_time(stamp);
  REQUIRE(back.has_value());
  CHECK(epoch_ms(*back) == epoch_ms(now));
  CHECK(line_timestamp(stamp + " text") == stamp);
  CHECK_FALSE(line_timestamp(stamp).has_value());  // no blank, no text
  CHECK_FALSE(line_timestamp("total: 42").has_value());
  // Stamps of one zone sort as their times do.
  CHECK(local_timestamp(now) < local_timestamp(now + 1ms));
  CHECK(local_timestamp(now + 999ms) < local_timestamp(now + 1s));
}

TEST_CASE("local times parse from a date alone to a fraction and nonsense does not") {
  const auto midnight = parse_local_time("2026-12-03");
  const auto minute = parse_local_time("2026-12-03 07:55");
  const auto second = parse_local_time("2026-12-03T07:55:01");
  const auto fraction = parse_local_time("2026-12-03T07:55:01.5");
  REQUIRE(midnight);
  REQUIRE(minute);
  REQUIRE(second);
  REQUIRE(fraction);
  CHECK(*minute - *midnight == 7h + 55min);
  CHECK(*second - *minute == 1s);
  CHECK(*fraction - *second == 500ms);
  CHECK(local_timestamp(*fraction) == "2026-12-03T07:55:01.500");
  // Past what the clock holds: as far as it goes, still later than now.
  const auto far = parse_local_time("2999-01-01");
  REQUIRE(far);
  CHECK(*far == wall_clock::time_point::max());
  CHECK(local_timestamp(*far) > local_timestamp(wall_clock::now()));
  for (const char* bad : {"", "2026", "2026-13-01", "2026-02-30", "2026-12-03T25:00", "2026-12-03T07:55:01.",
                          "2026-12-03X07:55", "yesterday"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_local_time(bad).has_value());
  }
}

TEST_CASE("since takes a duration back from now or a local time") {
  const auto now = wall_clock::now();
  CHECK(*parse_since("5m", now).value == now - 5min);
  CHECK(*parse_since("30s", now).value == now - 30s);
  CHECK(*parse_since("2026-12-03T07:55", now).value == *parse_local_time("2026-12-03T07:55"));
  const auto bad = parse_since("soon", now);
  CHECK_FALSE(bad);
  CHECK(bad.error == "'soon' is neither a duration (30s, 5m, 2h) nor a local time (2026-12-03T07:55:01)");
}

TEST_CASE("each line gets its stamp and a file past its size becomes NAME.1 with three kept") {
  temp_dir dir;
  const fs::path log = dir.path / "worker.0.log";
  // Lines of 34 bytes (23 of stamp, a blank, 9 of text, a newline): past
  // 100 bytes at the third line of each file.
  log_writer writer(log, 100, 3);
  for (int n = 1; n <= 14; ++n) writer.stamped(numbered(n));
  // Lines 1-3, 4-6, 7-9, 10-12 each filled a file; the oldest went.
  CHECK(!fs::exists(dir.path / "worker.0.log.4"));
  const std::vector<std::vector<int>> expected = {{4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {13, 14}};
  const std::vector<fs::path> files = {dir.path / "worker.0.log.3", dir.path / "worker.0.log.2",
                                       dir.path / "worker.0.log.1", log};
  CHECK(log_files(log) == files);
  for (std::size_t f = 0; f < files.size(); ++f) {
    CAPTURE(files[f]);
    const auto lines = lines_in(files[f]);
    REQUIRE(lines.size() == expected[f].size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      REQUIRE(line_timestamp(lines[i]).has_value());
      CHECK(lines[i].substr(timestamp_length + 1) == numbered(expected[f][i]));
    }
  }
  // Read back oldest first, across the rotated files.
  const auto all = read_log_lines(log);
  REQUIRE(all.size() == 11);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].substr(timestamp_length + 1) == numbered(4 + static_cast<int>(i)));

  // A writer that never rotates.
  log_writer plain(dir.path / "events.jsonl", 0);
  for (int n = 0; n < 20; ++n) plain.plain("{}");
  CHECK(lines_in(dir.path / "events.jsonl").size() == 20);
  CHECK(!fs::exists(dir.path / "events.jsonl.1"));
}

TEST_CASE("a follower reads every line once and in order across rotations and a file made later") {
  temp_dir dir;
  const fs::path log = dir.path / "run.log";
  log_follower follower(log, false);
  CHECK(follower.new_lines().empty());  // not there yet
  log_writer writer(log, 100, 3);
  std::vector<std::string> seen;
  for (int n = 1; n <= 20; ++n) {
    writer.plain(numbered(n) + "-padding-to-25");
    // A look every other line, a rotation every fifth: some looks find the
    // file renamed and none made yet, the next ones the new file.
    if (n % 2 == 0) {
      for (auto& line : follower.new_lines()) seen.push_back(line);
    }
  }
  REQUIRE(seen.size() == 20);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == numbered(static_cast<int>(i) + 1) + "-padding-to-25");

  // From the end: only what comes after.
  log_follower late(log, true);
  writer.plain("after");
  CHECK(late.new_lines() == std::vector<std::string>{"after"});
}

TEST_CASE("a follower that looks only after several rotations reads every line once and in order") {
  temp_dir dir;
  const fs::path log = dir.path / "events.jsonl";
  // 24 bytes a line, rotated past 90: four lines a file, three files kept.
  log_writer writer(log, 90, 3);
  writer.plain(numbered(1) + "-padding-to-25");
  log_follower follower(log, false);
  std::vector<std::string> seen;
  int written = 1;
  for (int look = 0; look < 5; ++look) {
    // Two or three rotations between two looks: the files in between were
    // renamed twice, and the follower's own has become events.jsonl.2 or .3.
    for (int n = 0; n < 9 + look % 2 * 2; ++n) writer.plain(numbered(++written) + "-padding-to-25");
    for (auto& line : follower.new_lines()) seen.push_back(line);
  }
  REQUIRE(seen.size() == static_cast<std::size_t>(written));
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == numbered(static_cast<int>(i) + 1) + "-padding-to-25");
}

TEST_CASE("a follower from the oldest rotated file reads the whole history kept and then what comes") {
  temp_dir dir;
  const fs::path log = dir.path / "events.jsonl";
  log_writer writer(log, 90, 3);                                               // four lines a file, as above
  for (int n = 1; n <= 10; ++n) writer.plain(numbered(n) + "-padding-to-25");  // .2: 1-4, .1: 5-8, 9 and 10
  log_follower follower(log, false, true);
  std::vector<std::string> seen;
  follower.new_lines([&seen](std::string&& line) { seen.push_back(std::move(line)); });
  CHECK(seen.size() == 10);
  for (int n = 11; n <= 40; ++n) {
    writer.plain(numbered(n) + "-padding-to-25");
    if (n % 7 == 0) {
      for (auto& line : follower.new_lines()) seen.push_back(line);
    }
  }
  for (auto& line : follower.new_lines()) seen.push_back(line);
  REQUIRE(seen.size() == 40);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == numbered(static_cast<int>(i) + 1) + "-padding-to-25");

  // One that fell behind by more files than are kept goes on from the
  // oldest there is: what was removed is lost, nothing is read twice.
  log_follower behind(log, false, true);
  CHECK(behind.new_lines().front() == numbered(29) + "-padding-to-25");  // .3: 29-32, ..., 37-40 in the log
  for (int n = 41; n <= 60; ++n) writer.plain(numbered(n) + "-padding-to-25");
  const auto rest = behind.new_lines();
  REQUIRE(!rest.empty());
  CHECK(rest.back() == numbered(60) + "-padding-to-25");
  CHECK(rest.front() == numbered(49) + "-padding-to-25");  // 41-48 went with the files after the follower's
}

TEST_CASE("an event is one JSON object with the documented fields") {
  const auto time = from_epoch_ms(1'700'000'000'123);
  const auto line = event_json({time, "exited", "worker.1", 4242, "signal 9 (Killed)", {}});
  CHECK(line.find('\n') == std::string::npos);
  const auto event = nlohmann::json::parse(line);
  CHECK(event["time_ms"] == 1'700'000'000'123);
  CHECK(event["time"] == local_timestamp(time));
  CHECK(event["kind"] == "exited");
  CHECK(event["actor"] == "worker.1");
  CHECK(event["pid"] == 4242);
  CHECK(event["detail"] == "signal 9 (Killed)");
  CHECK(line.starts_with(R"({"time_ms":1700000000123,"time":")"));
}

TEST_CASE("an event of a multi-node run's actor names its node; another has no node") {
  const auto time = from_epoch_ms(1'700'000'000'123);
  const auto remote = nlohmann::json::parse(event_json({time, "exited", "worker.1", 4242, "signal 9 (Killed)", "n1"}));
  CHECK(remote["node"] == "n1");
  CHECK(remote["actor"] == "worker.1");
  CHECK(is_event(remote));
  const auto local = nlohmann::json::parse(event_json({time, "exited", "worker.1", 4242, "signal 9 (Killed)", {}}));
  CHECK_FALSE(local.contains("node"));
}

TEST_CASE("a node's event line gains its node and keeps its fields in order; a line that is not an event does not") {
  const auto time = from_epoch_ms(1'700'000'000'123);
  const std::string line = event_json({time, "restarting", "worker.3", 77, "restart 1 of 5", {}});
  const auto logged = event_on_node(line, "n1");
  REQUIRE(logged.has_value());
  CHECK(logged->starts_with(R"({"time_ms":1700000000123,"time":")"));
  CHECK(logged->ends_with(R"("detail":"restart 1 of 5","node":"n1"})"));
  CHECK(*logged == event_json({time, "restarting", "worker.3", 77, "restart 1 of 5", "n1"}));
  CHECK_FALSE(event_on_node("not json", "n1").has_value());
  CHECK_FALSE(event_on_node(R"({"kind":"exited"})", "n1").has_value());
  CHECK_FALSE(event_on_node(R"([1,2])", "n1").has_value());
}
