#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace cli {
namespace {

using steady = std::chrono::steady_clock;

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

struct proc_entry {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
};

std::vector<proc_entry> all_processes() {
  std::vector<proc_entry> entries;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return entries;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) continue;
    proc_entry e;
    e.pid = static_cast<pid_t>(pid);
    std::istringstream rest(text.substr(close + 2));
    rest >> e.state >> e.ppid;
    entries.push_back(e);
  }
  ::closedir(dir);
  return entries;
}

// Every process below ours, zombies included.
std::vector<pid_t> subtree() {
  const auto entries = all_processes();
  std::vector<pid_t> found;
  std::vector<pid_t> frontier = {::getpid()};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (const auto& e : entries) {
      if (e.ppid == parent) {
        found.push_back(e.pid);
        frontier.push_back(e.pid);
      }
    }
  }
  return found;
}

}  // namespace

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// --- process ------------------------------------------------------------

process::process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const spawn_options& options)
    : own_group_(options.new_session) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls (the reader threads of other processes exist).
  std::vector<std::string> args = argv;
  std::vector<std::string> vars = env;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& v : vars) c_env.push_back(v.data());
  c_env.push_back(nullptr);
  const std::string cwd = options.cwd.string();
  const pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    if (options.new_session) {
      ::setsid();
    } else {
      ::setpgid(0, 0);
    }
    // If the test binary is killed (a ctest timeout), its commands go too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(c_args[0], c_args.data(), c_env.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  reader_ = std::thread([this] { read_output(); });
}

process::~process() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  {
    std::lock_guard guard(mutex_);
    stop_reading_ = true;
  }
  reader_.join();
  ::close(out_fd_);
  ::close(err_fd_);
}

// Reads until both pipes reach end of file, or until told to stop: a
// grandchild that inherited a pipe must not keep a test waiting.
void process::read_output() {
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    {
      std::lock_guard guard(mutex_);
      if (stop_reading_) return;
    }
    pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
    if (::poll(fds, 2, 50) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        std::lock_guard guard(mutex_);
        (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
  }
  std::lock_guard guard(mutex_);
  read_all_ = true;
}

std::string process::out() const {
  std::lock_guard guard(mutex_);
  return out_;
}

std::string process::err() const {
  std::lock_guard guard(mutex_);
  return err_;
}

std::optional<int> process::poll() {
  if (exit_code_) return exit_code_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = decode_status(status);
  return exit_code_;
}

int process::wait(seconds timeout) {
  if (!eventually([this] { return poll().has_value(); }, timeout)) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_code_ = decode_status(status);
    FAIL("pid " << pid_ << " still ran after " << timeout.count() << " s; killed it.\nstdout:\n"
                << out() << "\nstderr:\n"
                << err());
  }
  // Let the reader take what is still in the pipes (bounded: an orphan may
  // hold a write end open).
  (void)eventually(
      [this] {
        std::lock_guard guard(mutex_);
        return read_all_;
      },
      10s);
  return *exit_code_;
}

void process::signal(int sig) const { ::kill(own_group_ ? -pid_ : pid_, sig); }

void process::wait_for_output(const std::string& text, seconds timeout) {
  (void)eventually([&] { return out().find(text) != std::string::npos || poll().has_value(); }, timeout);
  // What it printed just before exiting may still be in the pipe.
  (void)eventually(
      [&] {
        std::lock_guard guard(mutex_);
        return read_all_ || out_.find(text) != std::string::npos;
      },
      poll() ? 10s : 0s);
  const bool seen = out().find(text) != std::string::npos;
  if (!seen)
    FAIL("no '" << text << "' in the output of pid " << pid_ << "\nstdout:\n" << out() << "\nstderr:\n" << err());
}

// --- sandbox --------------------------------------------------------------

sandbox::sandbox() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/procactor-cli-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  dir_ = pattern;
  fs::create_directory(dir_ / "xdg");
  fs::permissions(dir_ / "xdg", fs::perms::owner_all);
}

sandbox::~sandbox() { clean_up(); }

fs::path sandbox::runs_root() const { return dir_ / "state"; }

fs::path sandbox::runtime_dir() const { return dir_ / "xdg"; }

std::vector<std::string> sandbox::environment() const {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var = *e;
    if (var.starts_with("XDG_RUNTIME_DIR=") || var.starts_with("PROCACTOR_")) continue;
    env.push_back(var);
  }
  env.push_back("XDG_RUNTIME_DIR=" + runtime_dir().string());
  env.push_back("PROCACTOR_STATE_DIR=" + runs_root().string());
  env.push_back("NO_COLOR=1");
  return env;
}

std::unique_ptr<process> sandbox::start(const std::vector<std::string>& args, const spawn_options& options) {
  std::vector<std::string> argv = {procactor_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return start_program(argv, options);
}

std::unique_ptr<process> sandbox::start_program(const std::vector<std::string>& argv, const spawn_options& options) {
  spawn_options opts = options;
  if (opts.cwd.empty()) opts.cwd = dir_;
  auto p = std::make_unique<process>(argv, environment(), opts);
  started_.insert(p->pid());
  return p;
}

result sandbox::program(const std::vector<std::string>& argv, seconds timeout, const spawn_options& options) {
  spawn_options opts = options;
  if (opts.cwd.empty()) opts.cwd = dir_;
  process p(argv, environment(), opts);
  started_.insert(p.pid());
  result r;
  r.exit_code = p.wait(timeout);
  r.out = p.out();
  r.err = p.err();
  return r;
}

result sandbox::procactor(const std::vector<std::string>& args, seconds timeout, const spawn_options& options) {
  std::vector<std::string> argv = {procactor_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return program(argv, timeout, options);
}

fs::path quick_primes(const sandbox& box) {
  std::ifstream in(test_graph("primes_small.toml"));
  std::ostringstream read;
  read << in.rdbuf();
  std::string text = read.str();
  const std::string range = "to = 2_000_000";
  REQUIRE(text.find(range) != std::string::npos);
  text.replace(text.find(range), range.size(), "to = 2_000");
  return box.write("quick.toml", text);
}

fs::path sandbox::write(const std::string& name, const std::string& content) const {
  const fs::path path = dir_ / name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

fs::path sandbox::copy_graph(const std::string& name) const {
  fs::copy_file(test_graph(name), dir_ / name);
  return dir_ / name;
}

void sandbox::clean_up() {
  // Supervisors this sandbox started: its commands, and detached ones, which
  // wrote their pid into the run directory.
  std::set<pid_t> supervisors = started_;
  std::error_code ignored;
  for (const auto& run : fs::directory_iterator(runs_root(), ignored)) {
    std::ifstream pid_file(run.path() / "supervisor.pid");
    pid_t pid = 0;
    if (pid_file >> pid) supervisors.insert(pid);
  }
  // Everything still below us: kill, reap, again until nothing is left
  // (a dying supervisor's actors are re-parented here first).
  const auto give_up = steady::now() + 30s;
  for (;;) {
    const auto left = subtree();
    if (left.empty() || steady::now() > give_up) break;
    for (pid_t pid : left) {
      supervisors.insert(pid);
      ::kill(pid, SIGKILL);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::this_thread::sleep_for(10ms);
  }
  for (pid_t pid : supervisors) {
    for (const auto& name : segments_of(pid)) fs::remove(fs::path("/dev/shm") / name, ignored);
  }
  fs::remove_all(dir_, ignored);
}

// --- probes ---------------------------------------------------------------

bool is_alive(pid_t pid) {
  for (const auto& e : all_processes()) {
    if (e.pid == pid) return e.state != 'Z';
  }
  return false;
}

std::vector<pid_t> descendants() {
  std::vector<pid_t> live;
  for (pid_t pid : subtree()) {
    if (is_alive(pid)) live.push_back(pid);
  }
  return live;
}

std::vector<pid_t> processes_with_cmdline(const std::string& text) {
  std::vector<pid_t> found;
  for (const auto& e : all_processes()) {
    if (e.state == 'Z' || e.pid == ::getpid()) continue;
    std::string cmdline = read_whole("/proc/" + std::to_string(e.pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) found.push_back(e.pid);
  }
  return found;
}

std::vector<pid_t> actors_of(pid_t supervisor_pid) {
  // Every actor maps its run's arena (also once the segment is removed:
  // the mapping then reads "(deleted)"); the guardian does not, and an
  // actor forked by the fork server has no run name in its initial
  // environment. The fork server and its spare map it too (so that an
  // actor starts with it mapped), but are no actors: a spare renames
  // itself when it takes a request.
  const std::string marker = "/dev/shm/procactor-" + std::to_string(supervisor_pid) + "-";
  std::vector<pid_t> found;
  for (const auto& e : all_processes()) {
    if (e.state == 'Z' || e.pid == supervisor_pid) continue;
    const std::string comm = read_whole("/proc/" + std::to_string(e.pid) + "/comm");
    if (comm == "procactor-spare\n" || comm == "procactor-fork\n") continue;
    const std::string maps = read_whole("/proc/" + std::to_string(e.pid) + "/maps");
    if (maps.find(marker) != std::string::npos) found.push_back(e.pid);
  }
  return found;
}

bool maps_file(pid_t pid, const std::string& name) {
  std::istringstream maps(read_whole("/proc/" + std::to_string(pid) + "/maps"));
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.rfind('/');
    if (slash != std::string::npos && line.compare(slash + 1, name.size(), name) == 0) return true;
  }
  return false;
}

std::vector<std::string> segments_of(pid_t supervisor_pid) {
  const std::string prefix = "procactor-" + std::to_string(supervisor_pid) + "-";
  std::vector<std::string> names;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator("/dev/shm", ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.push_back(name);
  }
  return names;
}

bool eventually(const std::function<bool()>& condition, seconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// --- control socket --------------------------------------------------------

control_client::control_client(const fs::path& socket) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE_MESSAGE(fd_ >= 0, "socket: ", std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket.string();
  REQUIRE(path.size() < sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  REQUIRE_MESSAGE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0,
                  "connect to ", path, ": ", std::strerror(errno));
}

control_client::~control_client() { ::close(fd_); }

void control_client::send(const std::string& bytes) const {
  REQUIRE_MESSAGE(try_send(bytes), "send: ", std::strerror(errno));
}

bool control_client::try_send(const std::string& bytes) const {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void control_client::finish() const { ::shutdown(fd_, SHUT_WR); }

std::string control_client::reply(seconds timeout) {
  std::string text;
  bool closed = false;
  const bool done = eventually(
      [&] {
        char buffer[65536];
        for (;;) {
          const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
          if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          // End of file, or a reset once the server has closed: either way
          // the reply is complete.
          closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          return closed;
        }
      },
      timeout);
  REQUIRE_MESSAGE(done, "no complete reply within ", timeout.count(), " s; so far: ", text);
  return text;
}

bool control_client::waiting() const {
  char byte = 0;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

fs::path control_socket(const sandbox& box, const std::string& run) { return box.runs_root() / run / "control.sock"; }

std::string control_exchange(const fs::path& socket, const std::string& bytes, seconds timeout) {
  control_client client(socket);
  client.send(bytes);
  client.finish();
  return client.reply(timeout);
}

// --- text -----------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

bool starts_with_stamp(const std::string& line) {
  static const std::regex stamp(R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} )");
  return std::regex_search(line, stamp);
}

std::string unstamped(const std::string& text) {
  std::string plain;
  for (const auto& line : lines_of(text)) {
    CHECK_MESSAGE(starts_with_stamp(line), "a line without its time: ", line);
    plain += (starts_with_stamp(line) ? line.substr(24) : line) + "\n";
  }
  return plain;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

std::map<std::string, long> word_counts(const std::string& text) {
  std::map<std::string, long> counts;
  std::string word;
  for (const char c : text + " ") {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      word += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    } else if (!word.empty()) {
      ++counts[word];
      word.clear();
    }
  }
  return counts;
}

long primes_between(long from, long to) {
  if (to <= 2) return 0;
  std::vector<bool> composite(static_cast<std::size_t>(to), false);
  long count = 0;
  for (long n = 2; n < to; ++n) {
    if (composite[static_cast<std::size_t>(n)]) continue;
    if (n >= from) ++count;
    for (long m = n * n; m < to; m += n) composite[static_cast<std::size_t>(m)] = true;
  }
  return count;
}

fs::path procactor_binary() { return PROCACTOR_CLI_PROCACTOR; }
fs::path example_primes_binary() { return PROCACTOR_CLI_EXAMPLE_PRIMES; }
fs::path test_graph(const std::string& name) { return fs::path(PROCACTOR_CLI_GRAPHS_BINARY_DIR) / name; }
fs::path source_graph(const std::string& name) { return fs::path(PROCACTOR_CLI_GRAPHS_SOURCE_DIR) / name; }

// --- runs -----------------------------------------------------------------

std::map<std::string, pid_t> running_instances(sandbox& box, const std::string& run, std::size_t count) {
  std::map<std::string, pid_t> pids;
  std::string last;
  const bool ready = eventually(
      [&] {
        const result r = box.procactor({"status", run, "--json"}, 60s);
        last = r.out + r.err;
        pids.clear();
        if (r.exit_code != 0) return false;
        const auto status = nlohmann::json::parse(r.out, nullptr, false);
        if (status.is_discarded() || !status.contains("actors")) return false;
        for (const auto& row : status["actors"]) {
          if (row["state"] == "exited") continue;  // a source that has handed everything out
          // On a node of a multi-node run: an instance of another node, a
          // mailbox here with no pid.
          if (row["state"] == "remote") continue;
          if (row["state"] != "running" || row["pid"].get<int>() <= 0) return false;
          pids[row["name"].get<std::string>()] = row["pid"].get<pid_t>();
        }
        return pids.size() >= count;
      },
      120s);
  REQUIRE_MESSAGE(ready, "run ", run, " never had its ", count, " instances running; last status:\n", last);
  return pids;
}

served_dashboard start_dashboard(sandbox& box, const std::string& run) {
  auto dashboard = box.start({"dashboard", run, "--http", "127.0.0.1:0"});
  dashboard->wait_for_output("Ctrl-C to stop", 60s);
  const std::string said = dashboard->out();
  const auto at = said.find(" at http://");
  REQUIRE_MESSAGE(at != std::string::npos, said);
  std::string url = said.substr(at + 4, said.find(' ', at + 4) - (at + 4));
  return {std::move(dashboard), std::move(url)};
}

detached_run launch_detached(sandbox& box, const fs::path& graph) {
  const result launched = box.procactor({"launch", "--detach", graph.string()}, 120s);
  REQUIRE_MESSAGE(launched.exit_code == 0, launched.out, launched.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(launched.out, match, std::regex(R"(started run (\S+) \(pid ([0-9]+)\))")),
                  launched.out);
  return {match[1], static_cast<pid_t>(std::stoi(match[2]))};
}

void check_run_left_nothing(pid_t supervisor_pid, const std::vector<pid_t>& actor_pids) {
  CHECK_MESSAGE(eventually([&] { return !is_alive(supervisor_pid); }, 60s), "supervisor ", supervisor_pid,
                " still runs");
  for (pid_t pid : actor_pids) {
    CHECK_MESSAGE(eventually([&] { return !is_alive(pid); }, 60s), "actor ", pid, " still runs");
  }
  std::vector<pid_t> actors;
  CHECK_MESSAGE(eventually([&] { return (actors = actors_of(supervisor_pid)).empty(); }, 60s), actors.size(),
                " actors of ", supervisor_pid, " still run");
  std::vector<std::string> segments;
  CHECK_MESSAGE(eventually([&] { return (segments = segments_of(supervisor_pid)).empty(); }, 60s),
                "left in /dev/shm: ", segments.empty() ? "" : segments.front());
}

}  // namespace cli
