// What a run writes down as it goes, and how it is read back: log lines
// that each start with the local time they were written, to the
// millisecond ("2026-12-03T07:55:01.123 text"), in files rotated by size;
// and its events, one JSON object a line (events.jsonl).
//
// Local time, fixed width: the stamps of one host sort as text, so `logs`
// merges files and `--since` filters lines without parsing a date per line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "units.hpp"

namespace procactor::launcher {

using wall_clock = std::chrono::system_clock;

// "2026-12-03T07:55:01.123": local time, ISO 8601, milliseconds.
inline constexpr std::size_t timestamp_length = 23;
[[nodiscard]] std::string local_timestamp(wall_clock::time_point time);
[[nodiscard]] std::int64_t epoch_ms(wall_clock::time_point time);
[[nodiscard]] wall_clock::time_point from_epoch_ms(std::int64_t ms);

// The stamp a line starts with (followed by a blank), if it has one.
[[nodiscard]] std::optional<std::string_view> line_timestamp(std::string_view line);

// Local time as ISO 8601 writes it: YYYY-MM-DD, then optionally T (or a
// blank) HH:MM, :SS, .fraction. nullopt when `text` is none of these.
[[nodiscard]] std::optional<wall_clock::time_point> parse_local_time(std::string_view text);

// `--since`: a duration back from `now` ("5m", "30s") or a local time.
[[nodiscard]] Parsed<wall_clock::time_point> parse_since(std::string_view text, wall_clock::time_point now);

// Appends whole lines to one file, each with one write(2) on an O_APPEND
// descriptor: a reader never sees half a line, and nothing waits in a
// buffer if the process is killed. The file is opened at the first line,
// so a silent writer holds no descriptor. Past `rotate_bytes` the file
// becomes PATH.1 (PATH.1 becomes PATH.2, ..., the oldest beyond `keep`
// goes) and the next line starts a new PATH. Safe from any thread.
class log_writer {
 public:
  static constexpr std::uint64_t default_rotate_bytes = std::uint64_t{16} << 20U;
  static constexpr int default_keep = 3;

  // rotate_bytes 0: never rotated.
  explicit log_writer(std::filesystem::path path, std::uint64_t rotate_bytes = default_rotate_bytes,
                      int keep = default_keep);
  ~log_writer();
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;

  // "STAMP text", the stamp of `time` (default: now).
  void stamped(std::string_view text);
  void stamped(std::string_view text, wall_clock::time_point time);
  // `text` as it is.
  void plain(std::string_view text);

 private:
  void append(std::string_view text, bool stamp, std::optional<wall_clock::time_point> time);
  void rotate();

  std::mutex mutex_;
  std::filesystem::path path_;
  std::uint64_t rotate_bytes_;
  int keep_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The size past which a run's logs (run.log, each instance's, events.jsonl)
// are rotated: $PROCACTOR_LOG_ROTATE_SIZE, a size as a graph file writes one
// ("64KiB", "1MB"), else log_writer::default_rotate_bytes. An error when the
// variable is set to anything but a size of at least 1 byte.
[[nodiscard]] Parsed<std::uint64_t> log_rotate_setting();
// The same, with the default for a setting that is not a size (`launch`
// has refused those before it makes a run).
[[nodiscard]] std::uint64_t log_rotate_bytes();

// Makes `path` an empty log file, readable by its owner only as every log
// a log_writer starts, where it is not there yet; one that is stays as it is.
void create_log_file(const std::filesystem::path& path);

// A log file and what rotation left of it, oldest first (PATH.3 ... PATH.1,
// PATH): the ones that exist.
[[nodiscard]] std::vector<std::filesystem::path> log_files(const std::filesystem::path& path);

// Every line of a log and its rotated files, oldest first.
[[nodiscard]] std::vector<std::string> read_log_lines(const std::filesystem::path& path);

// The log files (NAME.N.log in `logs`, sorted) of one instance of `actor`
// when `replica` is set, else of all its replicas; empty when there is none.
[[nodiscard]] std::vector<std::filesystem::path> instance_logs(const std::filesystem::path& logs,
                                                               const std::string& actor,
                                                               std::optional<std::uint32_t> replica);
// "NAME.N | ", what each line of an instance's log gets when several are
// shown together.
[[nodiscard]] std::string instance_prefix(const std::filesystem::path& log);

// A line as printed, and the stamp it sorts by: its own, or the last one
// before it in its file (a line written before logs had stamps has none).
struct log_line {
  std::string stamp;
  std::string text;
};
// The lines of several files in time order: each file's stay in their
// order, and of lines stamped alike the file listed first goes first.
[[nodiscard]] std::vector<log_line> merge_by_time(std::vector<std::vector<log_line>> files);

// Reads what is appended to a file, line by line, from its end (or its
// start, or with `with_rotated` the start of the oldest file its rotation
// kept) on; survives the file's rotation, however many times it was rotated
// between two looks (each file is read to its end, then the one after it,
// so no line is lost or read twice), and a file that does not exist yet.
class log_follower {
 public:
  log_follower(std::filesystem::path path, bool from_end, bool with_rotated = false);
  ~log_follower();
  log_follower(const log_follower&) = delete;
  log_follower& operator=(const log_follower&) = delete;

  // The complete lines appended since the last call.
  [[nodiscard]] std::vector<std::string> new_lines();
  // The same, each handed to `each` as it is read: a long history is never
  // in memory all at once.
  void new_lines(const std::function<void(std::string&&)>& each);

 private:
  bool open_first();
  void read_to_end(const std::function<void(std::string&&)>& each);
  bool next_file(const std::function<void(std::string&&)>& each);

  std::filesystem::path path_;
  bool from_end_;
  bool with_rotated_;
  int fd_ = -1;
  std::string partial_;
};

// One line of events.jsonl: {"time_ms", "time", "kind", "actor", "pid",
// "detail"}. Kinds: started, exited, restarting, gave_up (actor: the group),
// ready and finished (actor "": the run's).
struct run_event {
  wall_clock::time_point time;
  std::string kind;
  std::string actor;
  int pid = 0;
  std::string detail;
  // The node whose actor it is, in the launching host's log of a
  // multi-node run; empty (and not written) otherwise.
  std::string node;
};
[[nodiscard]] std::string event_json(const run_event& event);
// Whether `event` is one as event_json writes them: an object with a
// string "kind" and a number "time_ms" (a line of events.jsonl that is
// not, damaged or written by something else, is left out by its readers).
[[nodiscard]] bool is_event(const nlohmann::json& event);
// A node's line of events.jsonl as the launching host of a multi-node run
// logs it: with "node" (its name) added, its fields in their order; nullopt
// when the line is not an event.
[[nodiscard]] std::optional<std::string> event_on_node(std::string_view line, const std::string& node);

}  // namespace procactor::launcher
