#include "shm_cleanup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
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

tracked_slot tracked_temp_dir;
std::atomic<long> tracked_launcher{0};

// Calls visit(name) for each entry of the directory open as `dir_fd`, "." and
// ".." left out, with raw getdents64: nothing that allocates, so that signal
// handlers can use it.
template <class Visit>
void for_each_entry(int dir_fd, Visit&& visit) noexcept {
  alignas(8) char buffer[2048];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir_fd, buffer, sizeof buffer);
    if (n <= 0) return;
    for (long at = 0; at < n;) {
      struct raw_dirent {
        std::uint64_t ino;
        std::int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      const auto* entry = reinterpret_cast<const raw_dirent*>(buffer + at);
      const char* name = static_cast<const char*>(entry->name);
      if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) visit(name);
      at += entry->reclen;
    }
  }
}

// `name` under `parent_fd`, a file or a whole tree (never following links).
void remove_at(int parent_fd, const char* name, int depth) noexcept {
  if (::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT) return;
  if ((errno != EISDIR && errno != EPERM) || depth > 16) return;
  // Entries removed while a directory is read may be skipped by the read:
  // a few passes empty it.
  for (int pass = 0; pass < 4; ++pass) {
    const int dir = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return;
    for_each_entry(dir, [&](const char* child) { remove_at(dir, child, depth + 1); });
    ::close(dir);
    if (::unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno != ENOTEMPTY) return;
  }
}

void unlink_tracked() noexcept {
  for (auto& slot : tracked) {
    if (slot.used.load(std::memory_order_acquire)) ::unlink(slot.path);
  }
  if (const long pid = tracked_launcher.load(std::memory_order_acquire); pid > 0) {
    remove_runtime_arena_of(pid);
  }
  if (tracked_temp_dir.used.load(std::memory_order_acquire)) remove_tree(tracked_temp_dir.path);
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

void track_temp_dir(const std::string& path) {
  if (path.size() >= sizeof tracked_temp_dir.path) throw std::length_error("temporary path too long: " + path);
  tracked_temp_dir.used.store(false, std::memory_order_release);
  std::memcpy(tracked_temp_dir.path, path.c_str(), path.size() + 1);
  tracked_temp_dir.used.store(true, std::memory_order_release);
}

void untrack_temp_dir() noexcept { tracked_temp_dir.used.store(false, std::memory_order_release); }

void track_launcher_pid(long pid) noexcept { tracked_launcher.store(pid, std::memory_order_release); }

void untrack_launcher_pid() noexcept { tracked_launcher.store(0, std::memory_order_release); }

bool remove_tree(const char* dir) noexcept {
  remove_at(AT_FDCWD, dir, 0);
  return ::access(dir, F_OK) != 0 && errno == ENOENT;
}

void remove_runtime_arena_of(long pid) noexcept {
  // "procactor-<pid>-", built without allocating.
  char prefix[48] = "procactor-";
  char digits[24];
  int count = 0;
  for (long rest = pid; rest > 0 && count < 20; rest /= 10) digits[count++] = static_cast<char>('0' + rest % 10);
  std::size_t at = std::strlen(prefix);
  while (count > 0) prefix[at++] = digits[--count];
  prefix[at++] = '-';
  prefix[at] = '\0';
  const int dir = ::open(shm_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  for_each_entry(dir, [&](const char* name) {
    if (std::strncmp(name, prefix, at) == 0) ::unlinkat(dir, name, 0);
  });
  ::close(dir);
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
