#include "log_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <utility>

#include "json_text.hpp"
#include "run_dir.hpp"

namespace procactor::launcher {

namespace {

namespace fs = std::filesystem;

// A run's logs are its owner's only, as its directory is.
constexpr mode_t log_file_mode = 0600;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

fs::path rotated(const fs::path& path, int n) { return fs::path(path.string() + "." + std::to_string(n)); }

// Reads fixed-width numbers and separators off the front of a text.
class scanner {
 public:
  explicit scanner(std::string_view text) : text_(text) {}
  bool number(std::size_t digits, int& out) {
    if (at_ + digits > text_.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < digits; ++i) {
      if (!is_digit(text_[at_ + i])) return false;
      out = out * 10 + (text_[at_ + i] - '0');
    }
    at_ += digits;
    return true;
  }
  bool take(char c) {
    if (at_ >= text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }
  // A fraction of a second after the '.', to the nanosecond.
  bool fraction(std::int64_t& nanoseconds) {
    std::size_t digits = 0;
    nanoseconds = 0;
    for (; at_ < text_.size() && is_digit(text_[at_]); ++at_, ++digits) {
      if (digits < 9) nanoseconds = nanoseconds * 10 + (text_[at_] - '0');
    }
    for (std::size_t i = digits; i < 9; ++i) nanoseconds *= 10;
    return digits > 0;
  }
  [[nodiscard]] bool done() const { return at_ == text_.size(); }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

std::int64_t epoch_ms(wall_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

wall_clock::time_point from_epoch_ms(std::int64_t ms) {
  return wall_clock::time_point(std::chrono::duration_cast<wall_clock::duration>(std::chrono::milliseconds(ms)));
}

std::string local_timestamp(wall_clock::time_point time) {
  const std::int64_t ms = epoch_ms(time);
  const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const auto milliseconds = static_cast<int>(ms - static_cast<std::int64_t>(seconds) * 1000);
  // Lines come many a second: the date and time of the last second are
  // kept, per thread, and only the milliseconds change.
  thread_local std::time_t last_second = -1;
  thread_local char date_time[80] = {};
  if (seconds != last_second) {
    std::tm local{};
    ::localtime_r(&seconds, &local);
    std::snprintf(date_time, sizeof date_time, "%04d-%02d-%02dT%02d:%02d:%02d", local.tm_year + 1900,
                  local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec);
    last_second = seconds;
  }
  char text[96];
  std::snprintf(text, sizeof text, "%s.%03d", date_time, milliseconds);
  return text;
}

std::optional<std::string_view> line_timestamp(std::string_view line) {
  if (line.size() <= timestamp_length || line[timestamp_length] != ' ') return std::nullopt;
  // YYYY-MM-DDTHH:MM:SS.mmm
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.ddd";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd' ? !is_digit(line[i]) : line[i] != shape[i]) return std::nullopt;
  }
  return line.substr(0, timestamp_length);
}

std::optional<wall_clock::time_point> parse_local_time(std::string_view text) {
  scanner in(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t nanoseconds = 0;
  if (!in.number(4, year) || !in.take('-') || !in.number(2, month) || !in.take('-') || !in.number(2, day)) {
    return std::nullopt;
  }
  if (!in.done()) {
    if (!in.take('T') && !in.take(' ')) return std::nullopt;
    if (!in.number(2, hour) || !in.take(':') || !in.number(2, minute)) return std::nullopt;
    if (in.take(':')) {
      if (!in.number(2, second)) return std::nullopt;
      if (in.take('.') && !in.fraction(nanoseconds)) return std::nullopt;
    }
  }
  if (!in.done() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm local{};
  local.tm_year = year - 1900;
  local.tm_mon = month - 1;
  local.tm_mday = day;
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = second;
  local.tm_isdst = -1;  // whatever the zone says for that day
  const std::time_t seconds = std::mktime(&local);
  // mktime moves a 31st of a shorter month into the next: no such day.
  if (seconds == static_cast<std::time_t>(-1) || local.tm_mday != day) return std::nullopt;
  // The clock counts nanoseconds in 64 bits: from 1677 to 2262. A time
  // beyond is as far as it goes.
  const auto limit = std::chrono::duration_cast<std::chrono::seconds>(wall_clock::duration::max()).count() - 1;
  if (seconds > limit) return wall_clock::time_point::max();
  if (seconds < -limit) return wall_clock::time_point::min();
  return wall_clock::from_time_t(seconds) +
         std::chrono::duration_cast<wall_clock::duration>(std::chrono::nanoseconds(nanoseconds));
}

Parsed<wall_clock::time_point> parse_since(std::string_view text, wall_clock::time_point now) {
  if (const auto duration = parse_duration(text)) {
    return {now - std::chrono::duration_cast<wall_clock::duration>(*duration.value), {}};
  }
  if (const auto time = parse_local_time(text)) return {*time, {}};
  return {std::nullopt, "'" + std::string(text) +
                            "' is neither a duration (30s, 5m, 2h) nor a local time (2026-12-03T07:55:01)"};
}

// --- log_writer -----------------------------------------------------------

log_writer::log_writer(std::filesystem::path path, std::uint64_t rotate_bytes, int keep)
    : path_(std::move(path)), rotate_bytes_(rotate_bytes), keep_(std::max(keep, 1)) {}

log_writer::~log_writer() {
  if (fd_ >= 0) ::close(fd_);
}

void log_writer::stamped(std::string_view text) { append(text, true, std::nullopt); }

void log_writer::stamped(std::string_view text, wall_clock::time_point time) { append(text, true, time); }

void log_writer::plain(std::string_view text) { append(text, false, std::nullopt); }

// A log that cannot be written (a full disk) must not stop the run: the
// line is lost, and the next one is tried again. The time is read under
// the lock, right before the write: a file's stamps never go back, and a
// follower may take a line stamped well before it looked as written.
void log_writer::append(std::string_view text, bool stamp, std::optional<wall_clock::time_point> time) {
  std::lock_guard guard(mutex_);
  std::string line;
  line.reserve(text.size() + timestamp_length + 2);
  if (stamp) {
    line = local_timestamp(time.value_or(wall_clock::now()));
    line += ' ';
  }
  line += text;
  line += '\n';
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, log_file_mode);
    if (fd_ < 0) {
      note_record_failure(path_, errno);
      return;
    }
    struct stat info {};
    size_ = ::fstat(fd_, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
  }
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      note_record_failure(path_, n < 0 ? errno : ENOSPC);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += done;
  if (rotate_bytes_ > 0 && size_ > rotate_bytes_) rotate();
}

// The last write to the old file comes before its rename, so a follower
// that sees the new file has already seen all of the old one's.
void log_writer::rotate() {
  ::close(fd_);
  fd_ = -1;
  size_ = 0;
  for (int n = keep_ - 1; n >= 1; --n) (void)::rename(rotated(path_, n).c_str(), rotated(path_, n + 1).c_str());
  (void)::rename(path_.c_str(), rotated(path_, 1).c_str());
}

Parsed<std::uint64_t> log_rotate_setting() {
  const char* text = std::getenv("PROCACTOR_LOG_ROTATE_SIZE");
  if (text == nullptr || *text == '\0') return {log_writer::default_rotate_bytes, {}};
  Parsed<std::uint64_t> size = parse_size(text);
  if (!size) return {std::nullopt, "PROCACTOR_LOG_ROTATE_SIZE: " + size.error};
  if (*size.value == 0) {
    return {std::nullopt, "PROCACTOR_LOG_ROTATE_SIZE: a log is rotated past a size of at least 1 byte, not 0"};
  }
  return size;
}

std::uint64_t log_rotate_bytes() { return log_rotate_setting().value.value_or(log_writer::default_rotate_bytes); }

void create_log_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, log_file_mode);
  if (fd >= 0) ::close(fd);
}

std::vector<std::filesystem::path> log_files(const std::filesystem::path& path) {
  std::vector<fs::path> files;
  std::error_code ignored;
  for (int n = 1; n <= 100 && fs::exists(rotated(path, n), ignored); ++n) files.push_back(rotated(path, n));
  std::reverse(files.begin(), files.end());
  if (fs::exists(path, ignored)) files.push_back(path);
  return files;
}

std::vector<std::string> read_log_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  for (const auto& file : log_files(path)) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) lines.push_back(std::move(line));
  }
  return lines;
}

std::vector<std::filesystem::path> instance_logs(const std::filesystem::path& logs, const std::string& actor,
                                                std::optional<std::uint32_t> replica) {
  std::vector<fs::path> found;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(logs, ignored)) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(".log")) continue;  // NAME.N.log; NAME.N.log.1 is what it rotated
    const std::string instance = file.substr(0, file.size() - 4);
    const bool match = replica ? instance == actor + "." + std::to_string(*replica)
                               : instance.substr(0, instance.rfind('.')) == actor;
    if (match) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<log_line> merge_by_time(std::vector<std::vector<log_line>> files) {
  if (files.size() == 1) return std::move(files.front());
  using head = std::pair<std::size_t, std::size_t>;  // file, line
  const auto later = [&files](const head& a, const head& b) {
    const std::string& stamp_a = files[a.first][a.second].stamp;
    const std::string& stamp_b = files[b.first][b.second].stamp;
    return stamp_a != stamp_b ? stamp_a > stamp_b : a.first > b.first;
  };
  std::priority_queue<head, std::vector<head>, decltype(later)> heads(later);
  std::size_t total = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    total += files[f].size();
    if (!files[f].empty()) heads.emplace(f, 0);
  }
  std::vector<log_line> merged;
  merged.reserve(total);
  while (!heads.empty()) {
    const auto [f, i] = heads.top();
    heads.pop();
    merged.push_back(std::move(files[f][i]));
    if (i + 1 < files[f].size()) heads.emplace(f, i + 1);
  }
  return merged;
}

std::string instance_prefix(const std::filesystem::path& log) {
  const std::string file = log.filename().string();
  return file.substr(0, file.size() - 4) + " | ";
}

// --- log_follower ---------------------------------------------------------

namespace {

// PATH for 0, else PATH.N: where rotation puts a log's Nth older file.
fs::path rotation_name(const fs::path& path, int n) { return n == 0 ? path : rotated(path, n); }

bool same_file(const struct stat& a, const struct stat& b) { return a.st_ino == b.st_ino && a.st_dev == b.st_dev; }

// How far a look goes among PATH.N: beyond the names rotation uses, two
// missing in a row. One alone is a rename under way (PATH.1 became PATH.2,
// PATH is not PATH.1 yet), and the files past it are still to be looked at.
constexpr int most_rotated = 100;

// Where `file` is among PATH (0), PATH.1, PATH.2, ...: nullopt when it is
// none of them (removed as the oldest beyond those kept, or with its
// directory). Rotation only ever moves a file to a higher number, and the
// look goes up, so a file being renamed meanwhile is still found.
std::optional<int> rotation_position(const fs::path& path, const struct stat& file) {
  int missing = 0;
  for (int n = 0; n <= most_rotated && missing < 2; ++n) {
    struct stat info {};
    if (::stat(rotation_name(path, n).c_str(), &info) != 0) {
      ++missing;
      continue;
    }
    missing = 0;
    if (same_file(info, file)) return n;
  }
  return std::nullopt;
}

// The highest N whose PATH.N exists (0: only PATH), as rotation_position
// looks; nullopt when there is no file at all.
std::optional<int> oldest_position(const fs::path& path) {
  std::optional<int> oldest;
  int missing = 0;
  for (int n = 0; n <= most_rotated && missing < 2; ++n) {
    std::error_code ignored;
    if (!fs::exists(rotation_name(path, n), ignored)) {
      ++missing;
      continue;
    }
    missing = 0;
    oldest = n;
  }
  return oldest;
}

}  // namespace

log_follower::log_follower(std::filesystem::path path, bool from_end, bool with_rotated)
    : path_(std::move(path)), from_end_(from_end), with_rotated_(with_rotated && !from_end) {
  if (open_first() && from_end_) ::lseek(fd_, 0, SEEK_END);
}

log_follower::~log_follower() {
  if (fd_ >= 0) ::close(fd_);
}

// The file to read first: the log itself, or the oldest file its rotation
// kept. That one is checked to be the oldest still once it is open: a
// rotation in between gave its name to a newer file.
bool log_follower::open_first() {
  if (!with_rotated_) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ >= 0;
  }
  for (int attempt = 0; attempt < 16; ++attempt) {
    const auto oldest = oldest_position(path_);
    if (!oldest) return false;
    const fs::path name = rotation_name(path_, *oldest);
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat opened {};
    struct stat there {};
    std::error_code ignored;
    if (::fstat(fd, &opened) == 0 && ::stat(name.c_str(), &there) == 0 && same_file(opened, there) &&
        !fs::exists(rotation_name(path_, *oldest + 1), ignored)) {
      fd_ = fd;
      return true;
    }
    ::close(fd);
  }
  return false;
}

void log_follower::read_to_end(const std::function<void(std::string&&)>& each) {
  // On the heap: a small RLIMIT_STACK (`ulimit -s 64`) is every thread's stack size.
  constexpr std::size_t buffer_size = 65536;
  const auto buffer_memory = std::make_unique_for_overwrite<char[]>(buffer_size);
  char* const buffer = buffer_memory.get();
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, buffer_size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    partial_.append(buffer, static_cast<std::size_t>(n));
    std::size_t begin = 0;
    for (std::size_t end; (end = partial_.find('\n', begin)) != std::string::npos; begin = end + 1) {
      each(partial_.substr(begin, end - begin));
    }
    partial_.erase(0, begin);
  }
}

// Once rotation has renamed the file being read (PATH.K now), the one after
// it is PATH.K-1. It is taken only when PATH.K is still this file after it
// was opened: otherwise a rotation came in between and moved both, and the
// look is made again. The writer's last write to a file comes before its
// rename, so what this file got is all read before moving on.
bool log_follower::next_file(const std::function<void(std::string&&)>& each) {
  struct stat mine {};
  if (::fstat(fd_, &mine) != 0) return false;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const auto at = rotation_position(path_, mine);
    if (at == 0) return false;  // still the newest
    int next = -1;
    if (at) {
      next = ::open(rotation_name(path_, *at - 1).c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) return false;  // not made yet (no line since the rotation), or a rename under way
      struct stat opened {};
      struct stat still {};
      if (::fstat(next, &opened) != 0 || same_file(opened, mine) ||
          ::stat(rotation_name(path_, *at).c_str(), &still) != 0 || !same_file(still, mine)) {
        ::close(next);
        continue;
      }
    } else {
      // Removed: this reader fell behind by more files than rotation
      // keeps. It goes on from the oldest file there is.
      const auto oldest = oldest_position(path_);
      if (!oldest) return false;
      next = ::open(rotation_name(path_, *oldest).c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) continue;
    }
    read_to_end(each);
    ::close(fd_);
    fd_ = next;
    partial_.clear();
    return true;
  }
  return false;
}

void log_follower::new_lines(const std::function<void(std::string&&)>& each) {
  // Not there when we started: all of it is new.
  if (fd_ < 0 && !open_first()) return;
  // Each file to its end, then the next; bounded, in case files keep coming
  // faster than they are read (the next call goes on).
  for (int files = 0; files <= most_rotated; ++files) {
    read_to_end(each);
    if (!next_file(each)) return;
  }
}

std::vector<std::string> log_follower::new_lines() {
  std::vector<std::string> lines;
  new_lines([&lines](std::string&& line) { lines.push_back(std::move(line)); });
  return lines;
}

namespace {

template <typename Json>
bool event_shape(const Json& event) {
  return event.is_object() && event.contains("kind") && event["kind"].is_string() && event.contains("time_ms") &&
         event["time_ms"].is_number();
}

}  // namespace

bool is_event(const nlohmann::json& event) { return event_shape(event); }

std::optional<std::string> event_on_node(std::string_view line, const std::string& node) {
  auto event = nlohmann::ordered_json::parse(line, nullptr, false);
  if (!event_shape(event)) return std::nullopt;
  event["node"] = node;
  return json_text(event);
}

std::string event_json(const run_event& event) {
  nlohmann::ordered_json line = {{"time_ms", epoch_ms(event.time)},
                                 {"time", local_timestamp(event.time)},
                                 {"kind", event.kind},
                                 {"actor", event.actor},
                                 {"pid", event.pid},
                                 {"detail", event.detail}};
  if (!event.node.empty()) line["node"] = event.node;
  return json_text(line);
}

}  // namespace procactor::launcher
