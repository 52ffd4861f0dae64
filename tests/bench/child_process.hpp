// Child processes of the benchmark: the Boost consumers (this binary
// re-executed with --child) and the Python baseline.
//
// Always fork+exec, never fork alone: the procactor runtime may already have
// threads in this process, and a forked copy of a threaded process may only
// call async-signal-safe functions until it execs. Between fork and exec the
// child only resets its signal mask, asks the kernel to SIGKILL it when this
// process dies (PR_SET_PDEATHSIG: no orphan outlives a killed benchmark),
// redirects stdout (and stderr) and execs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace procactor_bench {

struct exit_status {
  // False when someone else reaped the child first (a runtime that waits on
  // any child can): the child is gone but its status is lost.
  bool known = false;
  int wait_status = 0;

  [[nodiscard]] bool success() const;
  [[nodiscard]] std::string describe() const;
};

class child_process {
 public:
  // Execs `path` with `args` (args[0] is the child's argv[0]). When
  // `stdout_fd` >= 0 it becomes the child's stdout. With `own_group` the
  // child leads a new process group, so that its own descendants can be
  // found and reaped (see reap_group). When `stderr_fd` >= 0 it becomes the
  // child's stderr. When `env` is given it is the child's whole environment
  // ("NAME=value" entries); otherwise the child inherits ours. Throws
  // std::system_error when fork fails or exec fails (with exec's errno, e.g.
  // ENOENT).
  static child_process start(const std::string& path, const std::vector<std::string>& args,
                             int stdout_fd = -1, bool own_group = false, int stderr_fd = -1,
                             const std::vector<std::string>* env = nullptr);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&&) = delete;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  // Kills (SIGKILL) and reaps a child that is still running: every exit path
  // of the benchmark leaves no child behind.
  ~child_process();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // Waits up to `timeout` for the child to exit; nullopt if it is still running.
  std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
  // Non-blocking check: the exit status if the child has exited.
  std::optional<exit_status> poll() { return wait_for(std::chrono::milliseconds(0)); }
  void kill_and_reap() noexcept;

  // For a child started with own_group, once it has exited: its descendants
  // that outlived it. The procactor runtime makes this process a child
  // subreaper, so such orphans (Python's resource tracker, say) are
  // re-parented here and would stay zombies. Waits up to `grace` for them to
  // exit, then SIGKILLs the group; reaps them all either way.
  void reap_group(std::chrono::milliseconds grace) noexcept;

 private:
  child_process(pid_t pid, int pidfd, bool own_group) noexcept
      : pid_(pid), pidfd_(pidfd), own_group_(own_group) {}
  std::optional<exit_status> try_reap();

  pid_t pid_ = -1;
  int pidfd_ = -1;  // -1 when the kernel has no pidfd_open; then wait_for polls
  bool own_group_ = false;
  std::optional<exit_status> status_;
};

// Closes a file descriptor on every exit path.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  void reset() noexcept;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Appends what `fd` yields to `out` until EOF (true) or `deadline` (false).
// Throws std::system_error when poll or read fails.
bool read_until_eof(int fd, std::string& out, std::chrono::steady_clock::time_point deadline);

// The absolute path of the running executable (/proc/self/exe resolved).
std::string self_executable();

// First thing in a benchmark's child process, whose parent passed its pid
// as `parent_pid`: dies with that parent (PR_SET_PDEATHSIG; posix_spawn
// cannot set it), then tells it it runs with one byte on stdout. False when
// the parent is gone already or the byte could not be written.
bool announce_child_started(const char* parent_pid);

// `name` looked up in $PATH, as execvp would, but resolved before fork so the
// forked child does no allocation.
std::optional<std::string> find_in_path(const std::string& name);

}  // namespace procactor_bench
