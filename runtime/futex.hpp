// The raw futex calls on words in shared memory. Never FUTEX_PRIVATE_FLAG:
// the waiter and the waker are different processes with different mappings.
// (libstdc++ 12's std::atomic::wait keys on the virtual address in-process,
// so it cannot work across processes.)
#pragma once

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

}  // namespace procactor::detail
