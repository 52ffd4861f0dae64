#include "futex.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string_view>

namespace procactor::detail {

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  if (timeout.count() <= 0) return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  // EAGAIN (value changed), EINTR and ETIMEDOUT all mean "look again".
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word, int waiters) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, waiters, nullptr, nullptr, 0);
}

namespace {
long membarrier(int command) noexcept { return syscall(SYS_membarrier, command, 0, 0); }
}  // namespace

bool enable_light_fences() noexcept {
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  // PROCACTOR_FULL_FENCES=1, inherited by every process of a run, puts full
  // fences on both sides everywhere: then no waiter needs membarrier either.
  const char* full = std::getenv("PROCACTOR_FULL_FENCES");
  const bool all_full = full != nullptr && *full != '\0' && std::string_view(full) != "0";
  fence_state::heavy = !all_full && supported > 0 && (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
                       (supported & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
  fence_state::light = fence_state::heavy && membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  return fence_state::light;
}

void wait_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (fence_state::heavy) (void)membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

}  // namespace procactor::detail
