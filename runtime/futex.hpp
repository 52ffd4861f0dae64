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

}  // namespace procactor::detail
