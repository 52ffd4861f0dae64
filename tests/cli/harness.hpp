// Drives the real `procactor` binary as a user would type it.
//
// Each test case owns a sandbox: a private temporary directory whose state/
// is the PROCACTOR_STATE_DIR of every command it runs (and xdg/ its
// XDG_RUNTIME_DIR), so runs of one test never meet another test's (or the
// user's). The test binary is a child
// subreaper, so a detached supervisor, or an actor whose supervisor died,
// is re-parented to it; the sandbox's destructor kills every descendant
// left, removes the /dev/shm segments of the runs it started, and deletes
// its directory, whether the test passed or not.
//
// No assertion here measures time. Every wait polls a condition against a
// generous deadline and only fails the test when the deadline passes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using seconds = std::chrono::seconds;

// What a command did: its exit code (128 + N when killed by signal N) and
// everything it wrote.
struct result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

struct spawn_options {
  fs::path cwd;              // empty: the sandbox directory
  bool new_session = false;  // setsid() first, as a shell does for a job
};

// A started program whose stdout and stderr are read, as they arrive, into
// memory. The destructor SIGKILLs it if it still runs, and reaps it.
class process {
 public:
  process(const std::vector<std::string>& argv, const std::vector<std::string>& env, const spawn_options& options);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  // The exit code once it has exited; nullopt while it runs.
  [[nodiscard]] std::optional<int> poll();
  // Waits for the exit; past the deadline the process is killed and the
  // test fails with what it had printed so far.
  int wait(seconds timeout);
  // To its process group when it has its own session (a terminal's Ctrl-C
  // reaches the foreground group), else to the process alone.
  void signal(int sig) const;
  // Polls until stdout holds `text`; fails the test past the deadline or
  // when the process exits without printing it.
  void wait_for_output(const std::string& text, seconds timeout);

 private:
  void read_output();

  pid_t pid_ = -1;
  bool own_group_ = false;
  std::optional<int> exit_code_;
  int out_fd_ = -1;
  int err_fd_ = -1;
  mutable std::mutex mutex_;
  std::string out_;
  std::string err_;
  bool stop_reading_ = false;
  bool read_all_ = false;  // both pipes reached end of file
  std::thread reader_;
};

class sandbox {
 public:
  sandbox();
  ~sandbox();
  sandbox(const sandbox&) = delete;
  sandbox& operator=(const sandbox&) = delete;

  [[nodiscard]] const fs::path& dir() const { return dir_; }
  // Where procactor keeps this sandbox's runs: $PROCACTOR_STATE_DIR, made
  // by the first command that needs it.
  [[nodiscard]] fs::path runs_root() const;
  // The commands' XDG_RUNTIME_DIR, where runs no longer go.
  [[nodiscard]] fs::path runtime_dir() const;

  // `procactor ARGS...`, waited for.
  result procactor(const std::vector<std::string>& args, seconds timeout = 120s, const spawn_options& options = {});
  // Any program, waited for.
  result program(const std::vector<std::string>& argv, seconds timeout = 120s, const spawn_options& options = {});
  // `procactor ARGS...`, left running.
  std::unique_ptr<process> start(const std::vector<std::string>& args, const spawn_options& options = {});
  // Any program, left running.
  std::unique_ptr<process> start_program(const std::vector<std::string>& argv, const spawn_options& options = {});

  fs::path write(const std::string& name, const std::string& content) const;
  // A generated test graph copied into the sandbox (its plugin path is
  // absolute), so that its path names this test's runs alone.
  fs::path copy_graph(const std::string& name) const;

 private:
  [[nodiscard]] std::vector<std::string> environment() const;
  void clean_up();

  fs::path dir_;
  std::set<pid_t> started_;  // whose /dev/shm segments are ours to remove
};

// --- Checks on what a run leaves behind --------------------------------

// True while the process exists and is not a zombie.
bool is_alive(pid_t pid);
// Every live process below this one (the test binary), at any depth.
std::vector<pid_t> descendants();
// Live processes whose command line contains `text` (what `pgrep -f TEXT` finds).
std::vector<pid_t> processes_with_cmdline(const std::string& text);
// Live processes started for the run of the supervisor `supervisor_pid`:
// every actor maps the run's arena, /dev/shm/procactor-<pid>-...
std::vector<pid_t> actors_of(pid_t supervisor_pid);
// Whether /proc/PID/maps has a mapping of a file whose name starts with
// `name` ("libmpi.so" matches libmpi.so.40.30.5).
bool maps_file(pid_t pid, const std::string& name);
// /dev/shm entries named procactor-<pid>-*.
std::vector<std::string> segments_of(pid_t supervisor_pid);

// The pid of each running instance of the run, from `status RUN --json`,
// once at least `count` run and none is starting or restarting (finished
// ones are left out); fails the test when that does not happen.
std::map<std::string, pid_t> running_instances(sandbox& box, const std::string& run, std::size_t count);

// `launch --detach GRAPH`, checked: the run's name and its supervisor.
struct detached_run {
  std::string name;
  pid_t supervisor = 0;
};
detached_run launch_detached(sandbox& box, const fs::path& graph);

// `procactor dashboard RUN` on a free port of 127.0.0.1, once it serves,
// and the URL it serves at ("http://127.0.0.1:PORT").
struct served_dashboard {
  std::unique_ptr<process> dashboard;
  std::string url;
};
served_dashboard start_dashboard(sandbox& box, const std::string& run);

// After a launch has exited: none of its actors runs, and its /dev/shm
// segments are gone (polled: the kernel may still be tearing down).
void check_run_left_nothing(pid_t supervisor_pid, const std::vector<pid_t>& actor_pids = {});

// --- The control socket, spoken to directly --------------------------------

// A client connection to a run's control socket, for the tests that send
// what `procactor` itself never would. The destructor closes it.
class control_client {
 public:
  explicit control_client(const fs::path& socket);
  ~control_client();
  control_client(const control_client&) = delete;
  control_client& operator=(const control_client&) = delete;

  // Sends bytes as they are; fails the test when the socket refuses them.
  void send(const std::string& bytes) const;
  // The same, for a thread other than the test's: false instead of failing.
  [[nodiscard]] bool try_send(const std::string& bytes) const;
  // Ends what this client sends (a half close): the server reads no more.
  void finish() const;
  // Everything the server sends until it closes the connection; fails the
  // test past the deadline.
  std::string reply(seconds timeout);
  // True while the server has neither written nor closed: the connection
  // is still waiting for its request.
  [[nodiscard]] bool waiting() const;

 private:
  int fd_ = -1;
};

// The run's control socket in the sandbox.
fs::path control_socket(const sandbox& box, const std::string& run);
// One exchange: connect, send `bytes` and end the input, read the reply to the end.
std::string control_exchange(const fs::path& socket, const std::string& bytes, seconds timeout = 60s);

// Polls `condition` until it holds; false once the deadline has passed.
bool eventually(const std::function<bool()>& condition, seconds timeout);

// --- Text ---------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& text);
// A file's bytes; empty when it cannot be read.
std::string read_whole(const fs::path& path);
// `text` without the time each of its lines starts with, as the run's logs
// write it ("2026-12-03T07:55:01.123 "); a line without one fails the test.
std::string unstamped(const std::string& text);
// True when `line` starts with such a time and a blank.
bool starts_with_stamp(const std::string& line);
std::size_t count_of(const std::string& text, const std::string& needle);
// Counts the words of `text` as examples.WordCounter does: maximal runs of
// [A-Za-z0-9], lower-cased.
std::map<std::string, long> word_counts(const std::string& text);
// Primes in [from, to), by a sieve (not the examples' trial division).
long primes_between(long from, long to);

// Build-tree paths baked in by CMake.
fs::path procactor_binary();
fs::path example_primes_binary();
fs::path test_graph(const std::string& name);    // generated from tests/cli/graphs/NAME.in
// primes-small over a tiny range, written into the sandbox: done in a moment.
fs::path quick_primes(const sandbox& box);
fs::path source_graph(const std::string& name);  // tests/cli/graphs/NAME as written

}  // namespace cli
