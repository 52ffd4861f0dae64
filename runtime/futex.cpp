#include "futex.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

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
  fence_state::heavy = supported > 0 && (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
                       (supported & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
  // A waiter elsewhere that cannot run membarrier would rely on this
  // process's fence: the environment variable turns the light form off for
  // a run (the fallback is what the tests compare against).
  const char* off = std::getenv("PROCACTOR_FULL_FENCES");
  fence_state::light = fence_state::heavy && (off == nullptr || *off == '\0' || *off == '0') &&
                       membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  return fence_state::light;
}

void wait_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (fence_state::heavy) (void)membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

}  // namespace procactor::detail
