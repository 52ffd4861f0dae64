#include "life_watch.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "futex.hpp"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace procactor::detail {
namespace {

// The robust list of an actor's main thread: one entry, whose futex word is
// the slot's `life` word in shared memory (futex_offset reaches it from
// here). Private to the process, read only by the kernel as the thread
// exits.
robust_list life_node;
robust_list_head life_head;

}  // namespace

bool hold_life(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& bell) noexcept {
  robust_list_head* registered = nullptr;
  std::size_t length = 0;
  if (::syscall(SYS_get_robust_list, 0, &registered, &length) != 0 || registered != nullptr) return false;
  word.store(static_cast<std::uint32_t>(::gettid()) & FUTEX_TID_MASK, std::memory_order_release);
  life_node.next = &life_head.list;
  life_head.list.next = &life_node;
  life_head.futex_offset = reinterpret_cast<char*>(&word) - reinterpret_cast<char*>(&life_node);
  life_head.list_op_pending = nullptr;
  if (::syscall(SYS_set_robust_list, &life_head, sizeof life_head) != 0) {
    word.store(0, std::memory_order_release);
    return false;
  }
  bell.fetch_add(1, std::memory_order_acq_rel);
  futex_wake(bell, INT_MAX);
  return true;
}

exit_preview preview_exit(int pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char text[1024];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return {};
  text[n] = '\0';
  // Fields after the command name, which may hold anything but ends at the
  // last ')': the 3rd field (state) comes first.
  const char* at = std::strrchr(text, ')');
  if (at == nullptr) return {};
  exit_preview out;
  int field = 2;
  for (const char* p = at + 1; *p != '\0';) {
    while (*p == ' ') ++p;
    if (*p == '\0') break;
    ++field;
    if (field == 3) out.state = *p;
    if (field == 20) out.threads = static_cast<int>(std::strtol(p, nullptr, 10));
    if (field == 52) out.status = static_cast<int>(std::strtol(p, nullptr, 10));
    while (*p != ' ' && *p != '\0' && *p != '\n') ++p;
    if (*p == '\n') break;
  }
  return out;
}

void life_watch::start(arena_header* header, std::function<void(const early_death&)> on_death) {
  header_ = header;
  on_death_ = std::move(on_death);
}

void life_watch::cover(std::uint32_t slot_count) {
  if (header_ == nullptr || unavailable_.load() || stopping_.load()) return;
  std::lock_guard guard(mutex_);
  while (1 + threads_.size() * life_slots_per_watcher < slot_count && threads_.size() < life_watchers) {
    const auto index = static_cast<std::uint32_t>(threads_.size());
    threads_.emplace_back([this, index] { watch(index); });
  }
}

// Once: the arena may be gone by the time the destructor runs.
void life_watch::stop() {
  std::lock_guard guard(mutex_);
  if (stopping_.exchange(true) || header_ == nullptr) return;
  for (auto& bell : header_->life_bell) {
    bell.fetch_add(1, std::memory_order_acq_rel);
    futex_wake(bell, INT_MAX);
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  header_ = nullptr;
}

void life_watch::watch(std::uint32_t index) {
  const std::uint32_t first = 1 + index * life_slots_per_watcher;
  const std::uint32_t last = std::min(first + life_slots_per_watcher, max_slots);
  std::atomic<std::uint32_t>& bell = header_->life_bell[index];
  std::vector<std::uint32_t> armed(last - first, 0);  // the thread id each slot was armed for
  futex_waitv waiters[life_slots_per_watcher + 1];
  while (!stopping_.load()) {
    std::memset(waiters, 0, sizeof waiters);
    std::size_t n = 0;
    waiters[n++] = {bell.load(std::memory_order_acquire), reinterpret_cast<std::uintptr_t>(&bell), FUTEX_32, 0};
    const std::uint32_t end = std::min(last, header_->slot_count.load(std::memory_order_acquire));
    bool rescan = false;
    for (std::uint32_t s = first; s < end; ++s) {
      std::atomic<std::uint32_t>& word = header_->slots[s].life;
      std::uint32_t& tid = armed[s - first];
      std::uint32_t value = word.load(std::memory_order_acquire);
      if ((value & FUTEX_OWNER_DIED) != 0) {
        // Its holder is in its exit: told once, if it was armed for it.
        if (const int pid = static_cast<int>(std::exchange(tid, 0)); pid != 0) {
          const exit_preview preview = preview_exit(pid);
          if (preview.threads == 1 && preview.status != 0) on_death_({s, pid, preview.status});
        }
        continue;
      }
      if ((value & FUTEX_TID_MASK) == 0) {
        tid = 0;
        continue;
      }
      if ((value & FUTEX_WAITERS) == 0 &&
          !word.compare_exchange_strong(value, value | FUTEX_WAITERS, std::memory_order_acq_rel)) {
        rescan = true;  // its holder died, or a new one came, just now
        continue;
      }
      tid = value & FUTEX_TID_MASK;
      waiters[n++] = {value | FUTEX_WAITERS, reinterpret_cast<std::uintptr_t>(&word), FUTEX_32, 0};
    }
    if (rescan) continue;
    // Any return (a death, the bell, a word changed before the sleep, a
    // signal) means: look again.
    if (::syscall(SYS_futex_waitv, waiters, n, 0, nullptr, 0) < 0 && errno != EAGAIN && errno != EINTR) {
      // ENOSYS: a kernel before 5.16, or valgrind. The pidfds still tell.
      unavailable_.store(true);
      return;
    }
  }
}

}  // namespace procactor::detail
