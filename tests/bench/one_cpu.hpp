// Both sides of a round trip on one CPU (round_trip_params::one_cpu): what
// a busy machine does to a pair of processes when the scheduler stacks them
// on one CPU, made certain. The calling thread is pinned for the scope; a
// child it starts meanwhile (the Boost echo) inherits the pin, and the
// procactor echo is spawned with SpawnOptions::cpu set to the same CPU.
#pragma once

#include <sched.h>

#include <stdexcept>

namespace procactor_bench {

class pinned_to_one_cpu {
 public:
  // Pins the calling thread to the first CPU it may run on.
  pinned_to_one_cpu() {
    if (::sched_getaffinity(0, sizeof before_, &before_) != 0) throw std::runtime_error("sched_getaffinity failed");
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &before_)) {
        cpu_ = c;
        break;
      }
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    if (cpu_ < 0 || ::sched_setaffinity(0, sizeof one, &one) != 0) throw std::runtime_error("sched_setaffinity failed");
  }
  // Gives the thread back the CPUs it had.
  ~pinned_to_one_cpu() { (void)::sched_setaffinity(0, sizeof before_, &before_); }
  pinned_to_one_cpu(const pinned_to_one_cpu&) = delete;
  pinned_to_one_cpu& operator=(const pinned_to_one_cpu&) = delete;

  [[nodiscard]] int cpu() const noexcept { return cpu_; }

 private:
  cpu_set_t before_{};
  int cpu_ = -1;
};

}  // namespace procactor_bench
