#include "run_dir.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "json_text.hpp"
#include "log_writer.hpp"

namespace procactor::launcher {
namespace {

namespace fs = std::filesystem;

constexpr const char* lock_file = "supervisor.lock";

// An fd that closes itself.
class file_descriptor {
 public:
  explicit file_descriptor(int fd) : fd_(fd) {}
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

std::atomic<bool> record_failed{false};
// Made with the run and renamed to `exit` at its end (record_exit).
constexpr char pending_exit[] = "exit.pending";
// `exit=CODE`, empty: the exit code where `exit` could not be written.
const std::string exit_marker = "exit=";

std::optional<int> exit_from_marker(const fs::path& dir) {
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(dir, ignored)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(exit_marker)) continue;
    int code = 0;
    const char* first = name.data() + exit_marker.size();
    const auto [end, error] = std::from_chars(first, name.data() + name.size(), code);
    if (error == std::errc() && end == name.data() + name.size() && end != first) return code;
  }
  return std::nullopt;
}

bool holds_lock(const fs::path& dir) {
  const file_descriptor fd(::open((dir / lock_file).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  // Taking it, even shared, means nobody holds it exclusively: no supervisor.
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

RunEntry read_run(const fs::path& dir) {
  RunEntry run{dir.filename().string(), dir, RunState::died, -1, 0, false};
  std::ifstream(dir / "supervisor.pid") >> run.supervisor_pid;
  std::error_code ignored;
  run.node_of_cluster = fs::exists(dir / "node", ignored);
  bool recorded = static_cast<bool>(std::ifstream(dir / "exit") >> run.exit_code);
  if (!recorded) {
    if (const auto code = exit_from_marker(dir)) {
      run.exit_code = *code;
      recorded = true;
    }
  }
  if (holds_lock(dir)) {
    run.state = RunState::live;
  } else if (recorded) {
    run.state = RunState::ended;
  }
  return run;
}

// When the run started: its lock file is made once, with the directory.
fs::file_time_type started(const fs::path& dir) {
  std::error_code error;
  auto time = fs::last_write_time(dir / lock_file, error);
  return error ? fs::file_time_type::min() : time;
}

// A run's directory has its lock from the start; anything else in a state
// directory the user chose is not ours.
bool is_run_dir(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  std::error_code ignored;
  return !name.starts_with('.') && entry.is_directory(ignored) && fs::exists(entry.path() / lock_file, ignored);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t ms_of(fs::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

// An absolute path from the environment; relative ones are ignored, as the
// XDG base directory specification says.
std::optional<fs::path> absolute_from(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value != '/') return std::nullopt;
  return fs::path(value);
}

// $PROCACTOR_STATE_DIR, else $XDG_STATE_HOME/procactor, else
// $HOME/.local/state/procactor.
fs::path state_dir() {
  if (const char* chosen = std::getenv("PROCACTOR_STATE_DIR"); chosen != nullptr && *chosen != '\0') {
    if (*chosen != '/') {
      throw std::runtime_error(std::string("PROCACTOR_STATE_DIR must be an absolute path, not '") + chosen + "'");
    }
    return chosen;
  }
  if (auto state_home = absolute_from("XDG_STATE_HOME")) return *state_home / "procactor";
  if (auto home = absolute_from("HOME")) return *home / ".local" / "state" / "procactor";
  if (const passwd* user = ::getpwuid(::getuid()); user != nullptr && user->pw_dir != nullptr && *user->pw_dir == '/') {
    return fs::path(user->pw_dir) / ".local" / "state" / "procactor";
  }
  throw std::runtime_error("no state directory for the runs: set PROCACTOR_STATE_DIR (or HOME)");
}

// Missing parents are made 0700 too, as the XDG specification asks of the
// base directories.
void make_parents(const fs::path& root) {
  fs::path partial;
  for (const auto& part : root.parent_path()) {
    partial /= part;
    struct stat info {};
    if (::stat(partial.c_str(), &info) == 0) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create", partial);
  }
}

// Unix socket paths hold at most 107 bytes and the NUL.
void check_socket_fits(const fs::path& dir) {
  const std::string socket = (dir / "control.sock").string();
  if (socket.size() < sizeof(sockaddr_un::sun_path)) return;
  throw setting_error("the run's control socket " + socket + " would be " + std::to_string(socket.size()) +
                      " bytes long, and a Unix socket path holds at most " +
                      std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                      ": set PROCACTOR_STATE_DIR to a shorter directory");
}

// Written under a temporary name and renamed: readers see all or nothing.
// The owner's only (0600), made as the logs are.
// One that cannot be written is said (note_record_failure) and leaves
// nothing: no empty staging file.
void write_whole(const fs::path& path, const std::string& text) {
  const fs::path staging = path.string() + ".new";
  std::error_code ignored;
  fs::remove(staging, ignored);  // a failed write's, whatever its mode
  const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  int error = fd < 0 ? errno : 0;
  for (std::size_t done = 0; fd >= 0 && error == 0 && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = n < 0 ? errno : ENOSPC;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (fd >= 0 && ::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(staging.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    fs::remove(staging, ignored);
    note_record_failure(path, error);
  }
}

std::optional<std::string> read_whole(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// N when `name` is `base.N`.
std::optional<int> archive_number(const std::string& name, const std::string& base) {
  if (!name.starts_with(base + ".")) return std::nullopt;
  const std::string_view digits = std::string_view(name).substr(base.size() + 1);
  int number = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || number < 1) {
    return std::nullopt;
  }
  return number;
}

// Moves an old run of `name` aside as name.N, N one past the newest kept,
// and forgets all but the newest kept_runs of them.
void archive(const fs::path& root, const std::string& name) {
  std::vector<int> numbers;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(root, ignored)) {
    if (auto n = archive_number(entry.path().filename().string(), name)) numbers.push_back(*n);
  }
  std::sort(numbers.begin(), numbers.end());
  const int next = numbers.empty() ? 1 : numbers.back() + 1;
  fs::rename(root / name, root / (name + "." + std::to_string(next)));
  numbers.push_back(next);
  for (std::size_t i = 0; i + kept_runs < numbers.size(); ++i) {
    fs::remove_all(root / (name + "." + std::to_string(numbers[i])), ignored);
  }
}

}  // namespace

void note_record_failure(const fs::path& path, int error) {
  if (record_failed.exchange(true)) return;
  std::string where;
  try {
    where = state_dir().string();
  } catch (const std::exception&) {
    where = path.parent_path().string();
  }
  const bool full = error == ENOSPC || error == EDQUOT;
  std::string text = "procactor: cannot write " + path.string() + ": " + std::strerror(error) + "; ";
  text += full ? "the state directory " + where + " is full (no room or no inodes left)"
               : "in the state directory " + where;
  text += std::string(": the run's records there are incomplete (") +
          (full              ? "free room there, or set PROCACTOR_STATE_DIR elsewhere"
           : error == ENOENT ? "the run's directory, or a part of it, was removed"
                             : "set PROCACTOR_STATE_DIR elsewhere") +
          ")\n";
  (void)!::write(STDERR_FILENO, text.data(), text.size());
}

bool records_lost() { return record_failed.load(); }

bool exit_recorded(const RunEntry& run) {
  int code = 0;
  return static_cast<bool>(std::ifstream(run.dir / "exit") >> code) || exit_from_marker(run.dir).has_value();
}

fs::path runs_root() {
  const fs::path root = state_dir();
  make_parents(root);
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create", root);
  // stat, not lstat: a state directory may be a link to one of the user's
  // own (the owner and mode checks below still hold for what it points to).
  struct stat info {};
  if (::stat(root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw setting_error(root.string() + " is not a directory");
  }
  if (info.st_uid != ::getuid() || (info.st_mode & 077) != 0) {
    throw setting_error(root.string() + " must be a 0700 directory owned by you");
  }
  return root;
}

std::vector<RunEntry> list_runs() {
  std::vector<RunEntry> runs;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(runs_root(), ignored)) {
    if (is_run_dir(entry)) runs.push_back(read_run(entry.path()));
  }
  return runs;
}

std::optional<RunEntry> find_run(const std::optional<std::string>& name, std::string& error, bool* ambiguous) {
  const fs::path root = runs_root();
  if (name) {
    std::error_code ignored;
    const bool plain = !name->empty() && name->find('/') == std::string::npos && !name->starts_with('.');
    if (plain && fs::is_directory(root / *name, ignored)) return read_run(root / *name);
    error = "no such run '" + *name + "'";
    return std::nullopt;
  }
  const auto runs = list_runs();
  std::vector<const RunEntry*> live;
  const RunEntry* latest = nullptr;
  for (const auto& run : runs) {
    if (run.node_of_cluster) continue;
    if (run.state == RunState::live) live.push_back(&run);
    if (latest == nullptr || started(run.dir) > started(latest->dir)) latest = &run;
  }
  if (live.size() == 1) return *live.front();
  if (live.empty() && latest != nullptr && latest->state == RunState::died) return *latest;
  if (live.empty()) {
    error = "no run is active";
  } else {
    error = "several runs are active; name one:";
    if (ambiguous != nullptr) *ambiguous = true;
    for (const auto* run : live) error += " " + run->name;
  }
  return std::nullopt;
}

RunEntry create_run(const std::string& graph_name) {
  const fs::path root = runs_root();
  // Two launches of one graph at once must not both move the same old run
  // aside, nor take the same name.
  const file_descriptor root_lock(::open((root / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (root_lock.get() < 0) fail("cannot open", root / ".lock");
  while (::flock(root_lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) fail("cannot lock", root / ".lock");
  }
  for (int n = 1;; ++n) {
    const std::string name = n == 1 ? graph_name : graph_name + "-" + std::to_string(n);
    const fs::path dir = root / name;
    check_socket_fits(dir);
    if (fs::exists(dir)) {
      if (holds_lock(dir)) continue;  // a live run holds this name
      archive(root, name);
    }
    // Made under a hidden name and renamed when complete, so that nobody
    // sees a run directory without its lock.
    const fs::path staging = root / (".new-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(staging);
    fs::create_directories(staging / "logs");
    fs::permissions(staging, fs::perms::owner_all);
    fs::permissions(staging / "logs", fs::perms::owner_all);
    // Never closed: the lock is the run's sign of life until this process
    // exits (a --detach fork shares it, and keeps it after the parent goes).
    const int lock = ::open((staging / lock_file).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) fail("cannot create", staging / lock_file);
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) fail("cannot lock", staging / lock_file);
    write_whole(staging / "started", std::to_string(now_ms()) + "\n");
    // Room for the exit record, taken now: a state directory that fills up
    // during the run still gets the run's exit code (record_exit).
    write_whole(staging / pending_exit, std::string(15, ' ') + "\n");
    fs::rename(staging, dir);
    return {name, dir, RunState::live, -1, 0, false};
  }
}

void record_supervisor(const RunEntry& run) {
  write_whole(run.dir / "supervisor.pid", std::to_string(::getpid()) + "\n");
}

void record_node_of(const RunEntry& run, const std::string& whole) {
  write_whole(run.dir / "node", whole + "\n");
}

void record_graph(const RunEntry& run, const std::string& graph_name, const std::filesystem::path& file) {
  std::string text = graph_name + "\n";
  std::error_code ignored;
  if (!file.empty()) text += fs::absolute(file, ignored).string() + "\n";
  write_whole(run.dir / "graph", text);
}

void record_exit(const RunEntry& run, int code) {
  // Into the file made with the run, which needs neither a new block nor
  // an inode, then renamed: what a reader sees as `exit` is whole.
  const std::string text = std::to_string(code) + "\n";
  const fs::path pending = run.dir / pending_exit;
  const int fd = ::open(pending.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    const bool written = ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()) &&
                         ::ftruncate(fd, static_cast<off_t>(text.size())) == 0;
    ::close(fd);
    if (written && ::rename(pending.c_str(), (run.dir / "exit").c_str()) == 0) return;
  }
  write_whole(run.dir / "exit", text);
  if (std::ifstream(run.dir / "exit")) return;
  // No room for even that (a state directory full from the start): an
  // empty file, which takes an inode but no block, with the code in its
  // name (read_run).
  const int marker = ::open((run.dir / (exit_marker + std::to_string(code))).c_str(),
                            O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (marker >= 0) ::close(marker);
}

void record_final_status(const RunEntry& run, const std::string& status_json) {
  write_whole(run.dir / "final_status.json", status_json + "\n");
}

void record_final_inspect(const RunEntry& run, const std::string& inspect_json) {
  write_whole(run.dir / "final_inspect.json", inspect_json + "\n");
}

std::optional<std::int64_t> started_ms(const RunEntry& run) {
  std::int64_t ms = 0;
  if (std::ifstream(run.dir / "started") >> ms) return ms;
  // A run from before the record: its lock file was made with it.
  const auto time = started(run.dir);
  if (time == fs::file_time_type::min()) return std::nullopt;
  return ms_of(time);
}

std::optional<std::int64_t> ended_ms(const RunEntry& run) {
  std::error_code error;
  const auto time = fs::last_write_time(run.dir / "exit", error);
  if (error) return std::nullopt;
  return ms_of(time);
}

std::optional<std::string> final_status(const RunEntry& run) { return read_whole(run.dir / "final_status.json"); }

std::optional<std::string> final_inspect(const RunEntry& run) { return read_whole(run.dir / "final_inspect.json"); }

std::optional<proc_stat> read_proc_stat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return std::nullopt;
  // The command name is in parentheses and may hold anything but ends at
  // the last ')'; the fields after it are numbered from 3 (the state).
  const auto open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  proc_stat stat;
  stat.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3) stat.state = field.front();
    if (i == 14) stat.utime_ticks = std::strtod(field.c_str(), nullptr);
    if (i == 15) stat.stime_ticks = std::strtod(field.c_str(), nullptr);
    if (i == 22) {
      stat.start_ticks = std::strtoull(field.c_str(), nullptr, 10);
      return stat;
    }
  }
  return std::nullopt;
}

bool process_stopped(int pid) {
  const auto stat = read_proc_stat(pid);
  return stat && (stat->state == 'T' || stat->state == 't');
}

std::string last_status_json(const RunEntry& run) {
  const auto graph = graph_record(run);
  const nlohmann::json head = {
      {"schema", status_schema}, {"run", run.name}, {"graph", graph ? nlohmann::json(graph->name) : nlohmann::json()}};
  if (run.state == RunState::died) {
    nlohmann::json status = head;
    status["run_state"] = "died";
    status["supervisor_pid"] = run.supervisor_pid > 0 ? nlohmann::json(run.supervisor_pid) : nlohmann::json();
    status["exit_code"] = nullptr;
    return json_text(status);
  }
  const auto text = final_status(run);
  auto status = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  // A run that ended without its last table (a multi-node run whose nodes
  // were all lost, one that failed as it started): how it ended.
  if (!status.is_object() || !status.contains("actors")) status = head;
  // Recorded under the name the run had then; an earlier run of the graph
  // is asked for as NAME.N.
  status["run"] = run.name;
  const auto ended = ended_ms(run);
  status["run_state"] = "ended";
  status["exit_code"] = run.exit_code;
  status["ended"] = ended ? nlohmann::json(local_timestamp(from_epoch_ms(*ended))) : nlohmann::json();
  status["ended_ms"] = ended ? nlohmann::json(*ended) : nlohmann::json();
  return json_text(status);
}

std::optional<GraphRecord> graph_record(const RunEntry& run) {
  std::ifstream in(run.dir / "graph");
  GraphRecord record;
  std::string file;
  if (!std::getline(in, record.name)) return std::nullopt;
  std::getline(in, file);
  record.file = file;
  return record;
}

}  // namespace procactor::launcher
