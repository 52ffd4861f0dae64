// The procactor side of the benchmark, behind a small interface so that
// main.cpp and the baselines do not depend on the runtime's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bench_config.hpp"
#include "timing.hpp"

namespace procactor_bench {

// Counting the primes below a limit with examples::count_primes, the
// function of the graph's PrimeCounters: serially, or on a pool.
struct primes_run {
  double seconds = 0;
  std::uint64_t count = 0;
};

// In this process, no runtime needed.
primes_run serial_primes(std::uint64_t limit);

struct restart_result {
  summary latency_ms;      // kill -> the replacement's first answer
  int probes = 0;          // asks sent after the kills, timed ones only
  int probe_timeouts = 0;  // of those, unanswered within probe_timeout
  int probe_errors = 0;    // answered with an error (actor_died: in flight at the kill)
  int stale_answers = 0;   // answered by the killed incarnation: not counted
};

class procactor_workloads {
 public:
  // Constructs the procactor::Runtime. The runtime re-executes this binary to
  // host actors; in such a process this constructor runs the actor and never
  // returns. So it must come first in main, before any thread is started and
  // before anything that has effects (output, /dev/shm sweeps).
  procactor_workloads(int argc, char** argv);
  ~procactor_workloads();
  procactor_workloads(const procactor_workloads&) = delete;
  procactor_workloads& operator=(const procactor_workloads&) = delete;

  // Each throws on failure; the caller reports the figure as null.

  // One producer process streams Ticks (32 bytes, cereal) to a consumer
  // actor, run lengths as stream_params says; msg/s until the consumer has
  // handled them all.
  summary stream_msg_per_s(const stream_params& params);
  // `senders` actors each stream their share of the Ticks into one consumer
  // actor at once; total msg/s until the consumer has handled them all.
  summary stream_senders_msg_per_s(const stream_params& params, int senders);
  // This process streams Ticks through two forwarding actors into a counting
  // one (source -> middle -> middle -> sink); msg/s end to end.
  summary pipeline_msg_per_s(const stream_params& params);
  // ask/reply between two processes; µs per round trip. params.pause > 0
  // gives the parked variant.
  summary round_trip_us(const round_trip_params& params);
  // The primes below `limit` in `chunks` equal ranges on a Pool of `workers`
  // processes (started and warmed before the clock starts).
  primes_run pool_primes(std::uint64_t limit, int chunks, unsigned workers);
  // A worker (Restart::permanent, no backoff) kept busy by back-to-back asks
  // is killed with SIGKILL; from the kill, asks with short timeouts until
  // one is answered by a new incarnation. Milliseconds per kill.
  restart_result restart_latency_ms(const restart_params& params);

  // --callgrind: sends `messages` Ticks to a Counter actor while it is held
  // in a handler (until the FIFO at `fifo` is opened for writing), so that
  // neither side ever waits on the other; prints the pids of both sides.
  // See callgrind_stream.hpp.
  void callgrind_stream_driver(std::uint64_t messages, const std::string& fifo);

  // Bytes of one sender lane of a mailbox (the runtime's default, used here).
  [[nodiscard]] std::size_t lane_capacity_bytes() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace procactor_bench
