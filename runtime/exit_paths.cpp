#include "exit_paths.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace procactor::detail {
namespace {

char g_run_name[name_length];
std::atomic<int> g_pids[max_slots];
// The fork server, the guardian (and the one that replaces it), two spares
// and one on its way: room to spare.
std::atomic<int> g_helpers[16];
// Actors' process groups whose deaths were handled and not all reaped.
std::atomic<int> g_dying[max_slots];
struct sigaction g_previous[NSIG];
// The signals whose default action install_exit_paths replaces.
constexpr int g_fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
// close_in_fork_copies()'s descriptors, each as fd + 1 (0: a free entry).
std::atomic<int> g_fork_closed[8];
std::atomic<bool> g_fatal_signal{false};

std::int64_t monotonic_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Waits (at most until `deadline`) for the children of process group
// `group`, killed just now (an actor and what it forked, or the fork server
// and the spares it made, which share its group until they become actors),
// so that none outlives the program as a zombie for init to reap. ECHILD:
// none is left in it (a supervisor thread may have reaped one first).
void reap_group(int group, std::int64_t deadline) noexcept {
  for (;;) {
    const int r = ::waitpid(-group, nullptr, WNOHANG);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;
    if (monotonic_ns() >= deadline) return;
    const timespec pause{0, 200'000};
    ::nanosleep(&pause, nullptr);
  }
}

// What the handler kills, as it found it: a supervisor thread that sees an
// actor die (early, before it is a zombie) moves it from g_pids to g_dying,
// and the handler must still wait for it.
int g_killed[max_slots + std::size(g_helpers) + std::size(g_dying)];

bool put(std::atomic<int>* begin, std::atomic<int>* end, int pid) noexcept {
  for (auto* entry = begin; entry != end; ++entry) {
    int free = 0;
    if (entry->compare_exchange_strong(free, pid, std::memory_order_relaxed)) return true;
  }
  return false;
}

void take(std::atomic<int>* begin, std::atomic<int>* end, int pid) noexcept {
  for (auto* entry = begin; entry != end; ++entry) {
    int mine = pid;
    if (entry->compare_exchange_strong(mine, 0, std::memory_order_relaxed)) return;
  }
}

void on_fatal_signal(int sig) {
  const int saved_errno = errno;
  // First, so that the supervisor's threads, which see the actors die
  // from here on, neither restart them nor log their deaths as crashes.
  g_fatal_signal.store(true, std::memory_order_seq_cst);
  std::size_t killed = 0;
  for (auto& pid : g_pids) {
    const int p = pid.load(std::memory_order_relaxed);
    if (p <= 0) continue;
    g_killed[killed++] = p;
    ::kill(-p, SIGKILL);
  }
  // Each helper leads a process group of its own, unless killed before it
  // made it.
  for (auto& helper : g_helpers) {
    const int p = helper.load(std::memory_order_relaxed);
    if (p <= 0) continue;
    g_killed[killed++] = p;
    ::kill(-p, SIGKILL);
    ::kill(p, SIGKILL);
  }
  // Actors whose deaths were handled before they could be reaped: still
  // exiting, or strays of theirs still alive.
  for (auto& group : g_dying) {
    const int p = group.load(std::memory_order_relaxed);
    if (p <= 0) continue;
    g_killed[killed++] = p;
    ::kill(-p, SIGKILL);
  }
  remove_run_segments(g_run_name);
  // A few seconds of grace in all: a killed process is gone in microseconds
  // to milliseconds, unless the machine is very busy.
  const std::int64_t deadline = monotonic_ns() + 3'000'000'000;
  for (std::size_t i = 0; i < killed; ++i) reap_group(g_killed[i], deadline);
  // What an actor forked, killed with its group, came to this subreaper.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  sigaction(sig, &g_previous[sig], nullptr);
  errno = saved_errno;
  ::raise(sig);
}

void on_exit_cleanup() { remove_run_segments(g_run_name); }

}  // namespace

void install_exit_paths(const std::string& run) {
  std::strncpy(g_run_name, run.c_str(), sizeof g_run_name - 1);
  static bool installed = false;
  if (installed) return;
  installed = true;
  std::atexit(on_exit_cleanup);
  // SIGABRT: std::terminate's (an uncaught exception), abort()'s.
  for (int sig : g_fatal_signals) {
    struct sigaction current {};
    sigaction(sig, nullptr, &current);
    if (current.sa_handler != SIG_DFL) continue;
    struct sigaction handler {};
    handler.sa_handler = on_fatal_signal;
    sigemptyset(&handler.sa_mask);
    sigaction(sig, &handler, &g_previous[sig]);
  }
}

void close_in_fork_copies(int fd) noexcept {
  if (fd >= 0) put(std::begin(g_fork_closed), std::end(g_fork_closed), fd + 1);
}

void keep_in_fork_copies(int fd) noexcept {
  if (fd >= 0) take(std::begin(g_fork_closed), std::end(g_fork_closed), fd + 1);
}

void leave_run_in_fork_copy() noexcept {
  for (auto& entry : g_fork_closed) {
    const int fd = entry.exchange(0, std::memory_order_relaxed) - 1;
    if (fd >= 0) ::close(fd);
  }
  g_run_name[0] = '\0';
  // Ours only: not one the program has put there since.
  for (int sig : g_fatal_signals) {
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == on_fatal_signal) {
      sigaction(sig, &g_previous[sig], nullptr);
    }
  }
  // What the original's handler would kill is the original's.
  for (auto& pid : g_pids) pid.store(0, std::memory_order_relaxed);
  for (auto& helper : g_helpers) helper.store(0, std::memory_order_relaxed);
  for (auto& group : g_dying) group.store(0, std::memory_order_relaxed);
}

void record_actor_pid(std::uint32_t slot, int pid) noexcept {
  if (slot < max_slots) g_pids[slot].store(pid, std::memory_order_relaxed);
}

void record_helper_pid(int pid) noexcept {
  if (pid > 0) put(std::begin(g_helpers), std::end(g_helpers), pid);
}

void forget_helper_pid(int pid) noexcept {
  if (pid > 0) take(std::begin(g_helpers), std::end(g_helpers), pid);
}

void record_dying_group(int group) noexcept {
  if (group > 0) put(std::begin(g_dying), std::end(g_dying), group);
}

void forget_dying_group(int group) noexcept {
  if (group > 0) take(std::begin(g_dying), std::end(g_dying), group);
}

bool fatal_signal_arrived() noexcept { return g_fatal_signal.load(std::memory_order_seq_cst); }

void remove_recorded_run() noexcept { remove_run_segments(g_run_name); }

void forget_run() noexcept {
  remove_run_segments(g_run_name);
  g_run_name[0] = '\0';
}

}  // namespace procactor::detail
