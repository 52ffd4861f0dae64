#include "shm_cleanup.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace procactor_bench {

namespace {

constexpr std::string_view name_prefix = "procactor-bench-";
constexpr const char* shm_dir = "/dev/shm/";

// The signal handlers read this table, so it is fixed-size and lock-free:
// a slot's path is written before `used` is set (release) and the handler
// reads `used` (acquire) before the path.
struct tracked_slot {
  std::atomic<bool> used{false};
  char path[192] = {};
};
std::array<tracked_slot, 8> tracked;

void unlink_tracked() noexcept {
  for (auto& slot : tracked) {
    if (slot.used.load(std::memory_order_acquire)) ::unlink(slot.path);
  }
}

constexpr std::array<int, 3> cleanup_signals = {SIGINT, SIGTERM, SIGHUP};
std::array<struct sigaction, 3> previous_actions{};
struct sigaction previous_alarm {};
std::atomic<const char*> watchdog_what{nullptr};

void write_stderr(const char* text) noexcept {
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, text, std::strlen(text));
}

void on_terminating_signal(int sig) noexcept {
  unlink_tracked();
  // Hand the signal on: reinstall what was there before and re-raise. It is
  // blocked while this handler runs, so the previous disposition sees it as
  // soon as we return.
  for (std::size_t i = 0; i < cleanup_signals.size(); ++i) {
    if (cleanup_signals[i] == sig) ::sigaction(sig, &previous_actions[i], nullptr);
  }
  ::raise(sig);
}

void on_watchdog(int) noexcept {
  unlink_tracked();
  write_stderr("procactor-bench: ");
  const char* what = watchdog_what.load();
  write_stderr(what != nullptr ? what : "a measurement");
  write_stderr(" did not finish before its deadline (a peer died or hung); giving up\n");
  // Leave as a SIGTERM would, so that the runtime's own handler (chained
  // behind ours) also stops its actors and removes its segments; _exit only
  // if SIGTERM is ignored.
  ::raise(SIGTERM);
  ::_exit(1);
}

}  // namespace

std::string unique_shm_name(std::string_view role) {
  std::random_device entropy;
  const std::uint64_t nonce = (std::uint64_t{entropy()} << 32) ^ entropy();
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%ld-%016llx-", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(nonce));
  return std::string(name_prefix) + buffer + std::string(role);
}

int sweep_stale_shm() {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(shm_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(name_prefix, 0) != 0) continue;
    const char* digits = name.c_str() + name_prefix.size();
    long pid = 0;
    const auto [end, parse_error] = std::from_chars(digits, name.c_str() + name.size(), pid);
    if (parse_error != std::errc{} || *end != '-' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_error;
    if (std::filesystem::remove(entry.path(), remove_error)) ++removed;
  }
  return removed;
}

void track_shm_name(const std::string& name) {
  const std::string path = shm_dir + name;
  for (auto& slot : tracked) {
    if (slot.used.load(std::memory_order_relaxed)) continue;
    if (path.size() >= sizeof slot.path) throw std::length_error("shm name too long: " + name);
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.used.store(true, std::memory_order_release);
    return;
  }
  throw std::length_error("too many shared-memory names tracked at once");
}

void untrack_shm_name(const std::string& name) noexcept {
  const std::string path = shm_dir + name;
  for (auto& slot : tracked) {
    if (slot.used.load(std::memory_order_relaxed) && path == slot.path) {
      slot.used.store(false, std::memory_order_release);
    }
  }
}

scoped_shm_signal_cleanup::scoped_shm_signal_cleanup() {
  struct sigaction action {};
  action.sa_handler = on_terminating_signal;
  ::sigemptyset(&action.sa_mask);
  for (std::size_t i = 0; i < cleanup_signals.size(); ++i) {
    ::sigaction(cleanup_signals[i], nullptr, &previous_actions[i]);
    // An ignored signal (SIGINT of a background job, SIGHUP under nohup)
    // stays ignored: it will not end the process, so nothing must be unlinked.
    if (previous_actions[i].sa_handler == SIG_IGN) continue;
    ::sigaction(cleanup_signals[i], &action, nullptr);
  }
}

scoped_shm_signal_cleanup::~scoped_shm_signal_cleanup() {
  for (std::size_t i = 0; i < cleanup_signals.size(); ++i) {
    ::sigaction(cleanup_signals[i], &previous_actions[i], nullptr);
  }
}

scoped_watchdog::scoped_watchdog(unsigned seconds, const char* what) {
  watchdog_what.store(what);
  struct sigaction action {};
  action.sa_handler = on_watchdog;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGALRM, &action, &previous_alarm);
  ::alarm(seconds);
}

scoped_watchdog::~scoped_watchdog() {
  ::alarm(0);
  ::sigaction(SIGALRM, &previous_alarm, nullptr);
  watchdog_what.store(nullptr);
}

}  // namespace procactor_bench
