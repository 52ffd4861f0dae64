// Early notice of an actor's death, through a robust futex.
//
// A process killed with SIGKILL is a zombie, and its pidfd readable, only
// once the kernel has torn down its memory: 0.3-1.5 ms of CPU for an actor
// on the 2-vCPU development VM, most of a restart's latency. But a thread's
// robust futexes are released earlier in its exit (exit_mm, before the
// address space goes): the kernel sets FUTEX_OWNER_DIED in each futex word
// the thread holds and wakes one waiter.
//
// Contract
// --------
// * The actor's main thread holds its slot's `life` word (hold_life): it
//   writes its thread id there and registers the word as its robust list.
//   Only where no robust list is registered yet, which is an actor the fork
//   server made (a raw clone: the kernel clears the list, glibc's fork would
//   register its own). An actor started by exec keeps glibc's list and is
//   noticed by its pidfd alone.
// * The supervisor's watcher threads add FUTEX_WAITERS to each held word and
//   sleep on all of them (futex_waitv: 127 slots and their bell per thread,
//   arena.hpp's life_slots_per_watcher; an actor rings its watcher's bell
//   once it holds its word).
//   When a word says its owner died, the watcher reads /proc/PID/stat: the
//   wait status the exit will have (exit_code, set before exit_mm) and the
//   number of threads. Only a process whose one thread is that exiting
//   thread runs no code any more, so only then, and only for a status other
//   than 0 (which is also what an unreadable field shows), is the death
//   reported. The monitor thread then handles it as a reaped exit; the
//   pidfd only says when the zombie can be reaped.
// * Anything else (exec spawn, more threads, a clean exit, a kernel without
//   futex_waitv, valgrind) leaves the pidfd path as it was: the notice only
//   ever comes earlier, never instead of a correct status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "arena.hpp"

namespace procactor::detail {

// In the actor, on the thread whose exit ends it: publishes that thread in
// `word` and registers the word as the thread's robust list, then rings
// `bell`. False (nothing done) where a robust list is registered already.
bool hold_life(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& bell) noexcept;

// What a process's /proc/PID/stat says: its state letter ('T' or 't':
// stopped; 0 when it cannot be read), and for a dying one its wait status
// (0 when not exiting, or when the field cannot be read) and thread count.
struct exit_preview {
  char state = 0;
  int status = 0;
  int threads = 0;
};
exit_preview preview_exit(int pid) noexcept;

struct early_death {
  std::uint32_t slot = 0;
  int pid = 0;
  int status = 0;  // as waitpid will report it
};

class life_watch {
 public:
  life_watch() = default;
  life_watch(const life_watch&) = delete;
  life_watch& operator=(const life_watch&) = delete;
  ~life_watch() { stop(); }

  // `on_death` runs on a watcher thread.
  void start(arena_header* header, std::function<void(const early_death&)> on_death);
  // Watchers for every slot below `slot_count`.
  void cover(std::uint32_t slot_count);
  void stop();

 private:
  void watch(std::uint32_t index);  // slots of life_watcher_of == index

  arena_header* header_ = nullptr;
  std::function<void(const early_death&)> on_death_;
  std::mutex mutex_;  // guards threads_
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> unavailable_{false};  // no futex_waitv here
};

}  // namespace procactor::detail
