#include "exit_paths.hpp"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace procactor::detail {
namespace {

char g_run_name[name_length];
std::atomic<int> g_pids[max_slots];
struct sigaction g_previous[NSIG];
std::atomic<bool> g_fatal_signal{false};

void on_fatal_signal(int sig) {
  // First, so that the supervisor's threads, which see the actors die
  // from here on, neither restart them nor log their deaths as crashes.
  g_fatal_signal.store(true, std::memory_order_seq_cst);
  for (auto& pid : g_pids) {
    const int p = pid.load(std::memory_order_relaxed);
    if (p > 0) ::kill(-p, SIGKILL);
  }
  remove_run_segments(g_run_name);
  sigaction(sig, &g_previous[sig], nullptr);
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
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction current {};
    sigaction(sig, nullptr, &current);
    if (current.sa_handler != SIG_DFL) continue;
    struct sigaction handler {};
    handler.sa_handler = on_fatal_signal;
    sigemptyset(&handler.sa_mask);
    sigaction(sig, &handler, &g_previous[sig]);
  }
}

void record_actor_pid(std::uint32_t slot, int pid) noexcept {
  if (slot < max_slots) g_pids[slot].store(pid, std::memory_order_relaxed);
}

bool fatal_signal_arrived() noexcept { return g_fatal_signal.load(std::memory_order_seq_cst); }

void remove_recorded_run() noexcept { remove_run_segments(g_run_name); }

void forget_run() noexcept {
  remove_run_segments(g_run_name);
  g_run_name[0] = '\0';
}

}  // namespace procactor::detail
