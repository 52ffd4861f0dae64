// What the machine itself gives to N CPU-bound processes: the yardstick for
// the primes workloads' "0.9 x CPUs" goal.
#pragma once

#include <chrono>

namespace procactor_bench {

// `processes` plain forked processes count the primes of one small range
// again and again for `duration`, all at once. Returns the ranges they
// counted together. No procactor, no messages, no shared work: what the
// CPUs give, however the kernel places the processes. The throughput of N
// over that of 1 is the speedup any program could reach with N workers.
double ceiling_units(unsigned processes, std::chrono::milliseconds duration);

}  // namespace procactor_bench
