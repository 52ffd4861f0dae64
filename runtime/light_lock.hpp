// light_lock: the lock of a process's short hot sections (process.hpp).
#pragma once

#include <atomic>
#include <thread>

namespace procactor::detail {

// A lock for short sections on a process's hot paths (the inbox's
// consumer, the table of asks): taking it is one exchange after a plain
// load, releasing it a plain store. A pthread mutex costs a locked
// instruction for each and two calls into libc, and the inbox is tried on
// every poll of a waiter's spin. A thread that finds it held yields until
// it is free, which suits sections of a few microseconds (a drain of the
// inbox, an update of the table), not ones that wait for something.
class light_lock {
 public:
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire);
  }
  void lock() noexcept {
    while (!try_lock()) std::this_thread::yield();
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

}  // namespace procactor::detail
