#include "cpu_share.hpp"

#include <sched.h>

namespace procactor::detail {

namespace {

// A system call at most 100 times a second per waiting thread, and only
// at a spin's clock reads (past its first polls): a pin is seen within 10
// ms.
constexpr auto affinity_period = std::chrono::milliseconds(10);

struct affinity_cache {
  int cpu = -1;
  std::chrono::steady_clock::time_point next_read{};
};
// initial-exec, as the other thread-locals a spinning waiter touches.
thread_local affinity_cache t_affinity __attribute__((tls_model("initial-exec")));

int read_pinned_cpu() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) != 1) return -1;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) return c;
  }
  return -1;
}

}  // namespace

int pinned_cpu(std::chrono::steady_clock::time_point now) noexcept {
  if (now >= t_affinity.next_read) {
    t_affinity.cpu = read_pinned_cpu();
    t_affinity.next_read = now + affinity_period;
  }
  return t_affinity.cpu;
}

}  // namespace procactor::detail
