#include "fork_exec_restart.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "child_process.hpp"

extern char** environ;

namespace procactor_bench {

namespace {

constexpr std::string_view child_flag = "--child";
constexpr std::string_view ping_mode = "restart-ping";

[[noreturn]] void throw_errno(const char* call, int err) {
  throw std::system_error(err, std::generic_category(), call);
}

// Waits for the child's one byte until `deadline`; throws on EOF (the child
// died first) or when the deadline passes.
void await_ping(int fd, bench_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - bench_clock::now());
    if (left.count() < 0) throw std::runtime_error("the restarted child did not write its byte in time");
    pollfd readable{fd, POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_errno("poll", errno);
    if (ready == 0) continue;
    char byte = 0;
    const ssize_t got = ::read(fd, &byte, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("read", errno);
    if (got == 0) throw std::runtime_error("the restarted child's pipe closed");
    return;
  }
}

// A child started with posix_spawn: killed and reaped on every exit path.
class spawned_child {
 public:
  spawned_child(const std::string& path, const std::vector<std::string>& args, int stdout_fd) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The runtime blocks signals in its threads, and the mask survives exec.
    sigset_t none;
    ::sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    const int err = ::posix_spawn(&pid_, path.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw_errno("posix_spawn", err);
  }
  ~spawned_child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
  }
  spawned_child(const spawned_child&) = delete;
  spawned_child& operator=(const spawned_child&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Waits for it to exit. ECHILD: someone else reaped it, which is as good.
  void reap() noexcept {
    pid_t r = 0;
    do {
      r = ::waitpid(pid_, nullptr, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

bool is_restart_ping_child(int argc, char** argv) {
  return argc == 4 && argv[1] == child_flag && argv[2] == ping_mode;
}

int restart_ping_child_main(int argc, char** argv) {
  (void)argc;
  if (!announce_child_started(argv[3])) return 1;
  for (;;) ::pause();  // until the benchmark kills it, or dies
}

summary bare_restart_ms(const restart_params& params, bare_start how) {
  if (params.kills <= 0) throw std::invalid_argument("restart latency with no kills");
  const std::string self = self_executable();
  const std::vector<std::string> args{"procactor-bench", std::string(child_flag), std::string(ping_mode),
                                      std::to_string(::getpid())};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", errno);
  // Both ends stay open here for the whole run: every child gets the write
  // end as its stdout, and no child's death closes the pipe.
  const fd_guard read_end(fds[0]);
  const fd_guard write_end(fds[1]);

  // One of the two holds the running child.
  std::optional<child_process> forked;
  std::optional<spawned_child> spawned;
  const auto start_child = [&] {
    if (how == bare_start::fork_exec) {
      forked.emplace(child_process::start(self, args, write_end.get()));
    } else {
      spawned.emplace(self, args, write_end.get());
    }
  };
  const auto kill_and_reap = [&] {
    const pid_t pid = how == bare_start::fork_exec ? forked->pid() : spawned->pid();
    if (::kill(pid, SIGKILL) != 0) throw_errno("kill", errno);
    const auto killed = bench_clock::now();
    if (how == bare_start::fork_exec) {
      if (!forked->wait_for(params.give_up)) throw std::runtime_error("a killed child was not reaped in time");
      forked.reset();
    } else {
      spawned->reap();
      spawned.reset();
    }
    return killed;
  };

  start_child();
  await_ping(read_end.get(), bench_clock::now() + params.give_up);
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(params.kills));
  for (int kill = 0; kill < params.warmups + params.kills; ++kill) {
    const auto start = kill_and_reap();
    start_child();
    await_ping(read_end.get(), start + params.give_up);
    const auto stop = bench_clock::now();
    if (kill >= params.warmups) samples.push_back(microseconds_between(start, stop) / 1000.0);
  }
  forked.reset();  // kill and reap the last one
  spawned.reset();
  return summarize(std::move(samples));
}

}  // namespace procactor_bench
