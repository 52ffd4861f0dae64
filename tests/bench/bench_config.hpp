// What each workload is asked to do: message counts, repetitions, pauses.
//
// One struct per workload shape, shared by procactor and every baseline, so
// that both sides of a ratio are measured with the same counts and the same
// pause. `bench_config::make` is the only place where the sizes are chosen.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace procactor_bench {

// A stream run's length is set by time, not by count: contenders differ by
// 100x in rate (Python vs procactor, Boost spinning vs blocking), and one
// fixed count would make the slow ones take minutes or the fast ones finish
// within scheduler noise. A calibration run of `min_messages` estimates the
// rate; each later run sends enough to last about `target_run_seconds`,
// clamped to [min_messages, max_messages].
struct stream_params {
  std::uint64_t min_messages = 0;
  std::uint64_t max_messages = 0;
  double target_run_seconds = 0;
  int warmups = 0;  // runs after calibration, measured and thrown away
  int runs = 0;     // runs whose median is reported
};

struct round_trip_params {
  int warmups = 0;  // round trips thrown away (page faults, first wake-ups)
  int samples = 0;  // round trips timed one by one; the median is reported
  // Zero: back to back (the receiver is still spinning when the next request
  // lands). Non-zero: the sender sleeps this long before each round trip, long
  // enough that the receiver has given up spinning and parked.
  std::chrono::microseconds pause{0};
  // Both sides pinned to one CPU (one_cpu.hpp): each side's wait can end
  // only once the other has had that CPU.
  bool one_cpu = false;
};

// Counting primes on a Pool: once serially and once on the pool for each
// worker count, per round.
struct primes_params {
  std::uint64_t limit = 0;  // count the primes below this
  int chunks_per_worker = 0;  // of the most workers; fewer workers get the same chunks
  std::chrono::milliseconds ceiling{0};  // how long the machine's ceiling counts, with 1 and with CPUs processes
};

// The primes graph (examples/graphs/primes.toml with its own limit) through
// `procactor launch`, against the same count in one process.
struct primes_graph_params {
  std::int64_t limit = 0;  // count the primes below this
  std::int64_t chunk = 0;  // numbers per Range the source emits
};

// A graph of `actors` instances launched `warmups` times before the first
// round and `runs` times in each round; a round's figure is the median of
// its runs.
struct launch_ready_params {
  int actors = 0;
  int warmups = 0;
  int runs = 0;
};

// restart_latency: a busy worker is killed (SIGKILL) `kills` times per round
// after `warmups` kills that are not timed; each sample runs from the kill to the
// replacement's first answer. Python's pool and the bare fork+exec are killed
// as many times.
struct restart_params {
  int warmups = 0;
  int kills = 0;
  // Back-to-back asks (each handler busy for `busy_handler`) that keep the
  // worker busy before each kill: it is killed right after the last answer.
  int busy_asks = 0;
  std::chrono::microseconds busy_handler{0};
  // Each probe after a kill waits this long for an answer before the next
  // one is sent; a probe left unanswered is still handled by the
  // replacement, later, and its answer is dropped.
  std::chrono::milliseconds probe_timeout{0};
  // No replacement after this long: the figure is null and a note says so.
  std::chrono::milliseconds give_up{0};
};

struct bench_config {
  bool quick = false;
  // Each workload runs this many rounds, procactor and its baselines in
  // turn, every round with the counts below; the heavy ones (primes through
  // a pool and a graph, seconds per run) run `heavy_rounds`.
  int rounds = 0;
  int heavy_rounds = 0;
  stream_params stream;
  // The stream from several sender processes into one actor, and the
  // four-stage pipeline: run lengths per contender and round.
  stream_params stream_senders;
  std::vector<int> sender_counts;
  stream_params pipeline;
  round_trip_params round_trip_hot;
  round_trip_params round_trip_parked;
  round_trip_params round_trip_one_cpu;
  primes_params primes;
  primes_graph_params primes_graph;
  launch_ready_params launch_ready;
  restart_params restart;
  // Capacity of each Boost message_queue, in 64-byte messages.
  std::size_t boost_queue_capacity = 0;
  // Python's own round-trip counts: each of its samples also pays for the
  // interpreter, and its share of a --quick run must stay small.
  round_trip_params python_round_trip_hot;
  round_trip_params python_round_trip_parked;

  static bench_config make(bool quick);
  // 1, 2, 4, ... and `cpus` itself: the worker counts of the scaling curves.
  static std::vector<unsigned> worker_counts(unsigned cpus);
};

}  // namespace procactor_bench
