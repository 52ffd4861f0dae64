// A noisy neighbour: another process that keeps one CPU busy while a
// workload runs (primes_graph_busy). It is this binary re-executed as
// `procactor-bench --child busy-spin PARENT`, spinning in a plain loop, not
// pinned to any CPU and at the default nice level: the scheduler places it
// as it would anyone else's job, and the workload must share the machine
// with it.
#pragma once

#include <memory>

namespace procactor_bench {

// Starts the spinner and returns once it runs (it has written a byte on a
// pipe). The destructor kills (SIGKILL) and reaps it. Throws when it cannot
// be started.
class busy_core {
 public:
  busy_core();
  ~busy_core();
  busy_core(const busy_core&) = delete;
  busy_core& operator=(const busy_core&) = delete;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// True when argv selects the spinner: "--child busy-spin PARENT". Checked
// before the Boost children's `--child`, which takes every other mode.
bool is_busy_core_child(int argc, char** argv);
// The spinner's main: dies with PARENT, writes one byte to stdout, then
// spins until killed.
int busy_core_child_main(int argc, char** argv);

}  // namespace procactor_bench
