// The raw futex calls on words in shared memory. Never FUTEX_PRIVATE_FLAG:
// the waiter and the waker are different processes with different mappings.
// (libstdc++ 12's std::atomic::wait keys on the virtual address in-process,
// so it cannot work across processes.)
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace procactor::detail {

// Sleeps while *word == expected, at most `timeout`. Spurious returns are
// fine: every caller re-checks its condition in a loop.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;
void futex_wake(std::atomic<std::uint32_t>& word, int waiters) noexcept;

// The fences of a sleep/wake handshake, made asymmetric. A waiter stores its
// "I sleep" flag and re-reads the condition; a signaller stores the
// condition and reads the flag. Each side needs a full fence between its
// store and its load (a store-buffer litmus), or both can miss the other.
// The signaller runs once per message and the waiter once per sleep, so the
// cost goes to the waiter: wait_fence() is membarrier(2)'s
// MEMBARRIER_CMD_GLOBAL_EXPEDITED, which runs a full barrier on every CPU
// that runs a thread of a process registered for it (a process not running
// passed one when it was switched out), and signal_fence() in a registered
// process is a compiler barrier only. A process that could not register
// (kernel without membarrier, a seccomp filter) keeps the full fence on both
// sides. About 1.3 µs per wait_fence on the 2-vCPU development VM, against
// a futex sleep and wake-up of 15-40 µs; nothing per message.
//
// Registers this process (each process, after fork: the registration is the
// address space's); returns whether signal_fence() is now a compiler barrier.
bool enable_light_fences() noexcept;
namespace fence_state {
inline bool light = false;  // this process registered: signal_fence() may skip the CPU fence
inline bool heavy = false;  // membarrier works here: wait_fence() uses it
}  // namespace fence_state
inline void signal_fence() noexcept {
  if (fence_state::light) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
void wait_fence() noexcept;

// A waiter's first sleep of a wait may skip wait_fence's membarrier: it
// runs a local fence only and sleeps at most `unfenced_sleep`; a sleep that
// ends by its timeout is followed by a fenced one. Without the membarrier a
// signaller may, rarely, miss the flag (the store-buffer race above) and not
// wake the waiter: it then sees the condition when that short sleep ends,
// late by at most unfenced_sleep, never lost. The membarrier is what it
// saves: 1.3 µs with the other CPUs idle, but it interrupts every CPU that
// runs a thread of a registered process, and with those busy it costs tens
// of µs. Waiters whose waits usually outlast their spin take it
// (spin_budget::slow): in procactor-mpi-bench's cross-node round trip (an
// ask carried by two nodes' gateways, 4 processes on a 2-core VM) a
// membarrier before every sleep cost 30-40 µs of a 150-190 µs round trip.
// Waiters whose waits are short keep the fence: on the local parked round
// trip the asker's unfenced sleep measured 6 µs slower (29 against 22 µs
// in interleaved runs; the cause was not found).
inline constexpr std::chrono::microseconds unfenced_sleep{500};
// The fence before a sleep: wait_fence(), or with `unfenced` (a slow
// waiter's first sleep) a local fence only; returns the longest that sleep
// may last.
inline std::chrono::nanoseconds park_fence(bool unfenced, std::chrono::nanoseconds timeout) noexcept {
  if (unfenced && fence_state::heavy) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return std::min<std::chrono::nanoseconds>(timeout, unfenced_sleep);
  }
  wait_fence();
  return timeout;
}

}  // namespace procactor::detail
