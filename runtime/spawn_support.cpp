#include "spawn_support.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <thread>

extern char** environ;

namespace procactor::detail {

child_environment::child_environment(std::vector<std::string> extra) {
  for (char** e = environ; *e != nullptr; ++e) {
    // Nor what an MPI launcher gave a node supervisor: actors are not ranks.
    if (std::strncmp(*e, "PROCACTOR_", 10) == 0 || std::strncmp(*e, "OMPI_", 5) == 0 ||
        std::strncmp(*e, "PMIX_", 5) == 0) {
      continue;
    }
    storage_.emplace_back(*e);
  }
  for (auto& s : extra) storage_.push_back(std::move(s));
  for (auto& s : storage_) pointers_.push_back(s.data());
  pointers_.push_back(nullptr);
}

void init_spawn_attributes(posix_spawnattr_t& attr, short flags) {
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
}

namespace {

// Where the kernel keeps this process's arguments, from /proc/self/stat
// (fields 48 and 49), read once: a forked child has the same.
std::span<char> command_line_region() {
  static const std::span<char> region = [] {
    std::FILE* f = std::fopen("/proc/self/stat", "re");
    if (f == nullptr) return std::span<char>{};
    char stat[4096] = {};
    const std::size_t n = std::fread(stat, 1, sizeof stat - 1, f);
    std::fclose(f);
    stat[n] = '\0';
    const char* at = std::strrchr(stat, ')');
    if (at == nullptr) return std::span<char>{};
    // After "pid (comm)" come fields 3, 4, ...
    unsigned long long begin = 0;
    unsigned long long end = 0;
    int field = 2;
    for (const char* p = at + 1; *p != '\0' && field < 49;) {
      while (*p == ' ') ++p;
      ++field;
      if (field == 48) begin = std::strtoull(p, nullptr, 10);
      if (field == 49) end = std::strtoull(p, nullptr, 10);
      while (*p != ' ' && *p != '\0') ++p;
    }
    if (begin == 0 || end <= begin) return std::span<char>{};
    return std::span<char>(reinterpret_cast<char*>(begin), end - begin);
  }();
  return region;
}

}  // namespace

void set_command_line(const std::string& text) {
  const std::span<char> region = command_line_region();
  if (region.empty()) return;
  std::memset(region.data(), 0, region.size());
  std::memcpy(region.data(), text.data(), std::min(text.size(), region.size() - 1));
}

std::string process_limit_note(int err) {
  if (err != EAGAIN) return "";
  const std::string machine = "the machine's limit (kernel.threads-max, kernel.pid_max, a pids cgroup's pids.max)";
  rlimit processes{};
  if (::getrlimit(RLIMIT_NPROC, &processes) != 0 || processes.rlim_cur == RLIM_INFINITY) {
    return "; too many processes and threads: " + machine + " is reached";
  }
  return "; too many processes and threads: this user may have " + std::to_string(processes.rlim_cur) +
         " (RLIMIT_NPROC, `ulimit -u`; a run takes a process per actor, a fork server, a guardian, two spares, " +
         "and the supervisor's threads), or " + machine + " is reached";
}

bool reap_within(pid_t pid, int ms, int* status) noexcept {
  int ignored = 0;
  int* out = status != nullptr ? status : &ignored;
  if (pid <= 0) return true;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    // Readable once it has ended: a stopped child never makes it so.
    pollfd gone{pidfd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      const int ready = ::poll(&gone, 1, static_cast<int>(std::max<long long>(left, 0)));
      if (ready >= 0 || errno != EINTR) break;
    }
    ::close(pidfd);
    const pid_t got = ::waitpid(pid, out, WNOHANG);
    return got == pid || (got < 0 && errno == ECHILD);
  }
  // No pidfd (an old kernel, or no descriptor left): polled.
  for (int waited = 0;; waited += 5) {
    const pid_t got = ::waitpid(pid, out, WNOHANG);
    if (got == pid || (got < 0 && errno == ECHILD)) return true;
    if (waited >= ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool reap_or_kill(pid_t pid, int ms) noexcept {
  if (reap_within(pid, ms)) return false;
  ::kill(pid, SIGKILL);  // ends a stopped process too
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace procactor::detail
