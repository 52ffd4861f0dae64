#include "bench_config.hpp"

namespace procactor_bench {

// Sizes are chosen so that each figure is the median of several rounds
// lasting well over the clock's and the scheduler's granularity, so that
// --quick stays under two minutes and the full run under ten on 2 vCPUs
// with every baseline included.
bench_config bench_config::make(bool quick) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  bench_config config;
  config.quick = quick;
  // Three rounds is the least that has a median and a range; the full run
  // takes five where a round costs a few seconds, three where it costs tens.
  config.rounds = quick ? 3 : 5;
  config.heavy_rounds = 3;
  // One set of stream parameters for every contender, Python included: the
  // run length is what is held equal (see stream_params). Per round: a
  // calibration run (which also warms the lanes up), then the timed runs.
  config.stream = quick ? stream_params{20'000, 5'000'000, 0.25, 0, 1}
                        : stream_params{20'000, 20'000'000, 0.5, 0, 2};
  // Up to 8 senders and a consumer share the CPUs: shorter runs, one each.
  config.stream_senders = quick ? stream_params{20'000, 4'000'000, 0.2, 0, 1}
                                : stream_params{40'000, 20'000'000, 0.4, 0, 1};
  config.sender_counts = {2, 4, 8};
  config.pipeline = config.stream_senders;
  config.round_trip_hot = quick ? round_trip_params{200, 1'500, microseconds(0)}
                                : round_trip_params{200, 4'000, microseconds(0)};
  // 2 ms between round trips: far longer than any sensible spin phase, so the
  // receiver is parked (asleep in the kernel) when each request arrives.
  config.round_trip_parked = quick ? round_trip_params{5, 80, microseconds(2'000)}
                                   : round_trip_params{10, 300, microseconds(2'000)};
  // Back to back, both sides on one CPU: a spin there delays the answer by
  // the whole spin (about 60 µs a round trip), so fewer samples than hot.
  config.round_trip_one_cpu = quick ? round_trip_params{50, 500, microseconds(0), true}
                                    : round_trip_params{100, 2'000, microseconds(0), true};
  // 16 chunks per worker: later chunks cost more (trial division), and the
  // pool hands tasks out as workers finish, so fewer chunks would leave one
  // worker with visibly more work than the other at the end.
  // The machine's ceiling counts for a second (0.3 s with --quick), with one
  // process and with as many as CPUs.
  config.primes = quick ? primes_params{3'000'000, 16, milliseconds(300)}
                        : primes_params{8'000'000, 16, milliseconds(1'000)};
  // The chunk of examples/graphs/primes.toml. 20 million as in that file; 3
  // million keeps --quick's serial count and graph runs to a second or so.
  // Chunks of 20,000 rather than 50,000: on 16 CPUs the last chunks left
  // fewer workers idle at the end (docs/benchmarks.md, 16 cores).
  config.primes_graph = quick ? primes_graph_params{3'000'000, 20'000}
                              : primes_graph_params{20'000'000, 20'000};
  // Each launch of 64 actors takes well under a second; one warm-up launch
  // pages the launcher, the runtime and the plugin in.
  config.launch_ready = launch_ready_params{64, 1, 1};
  // 40 kills per round in the full run, 200 in all, so that the pooled p99
  // is a sample, not the maximum. A restart takes milliseconds here and tens
  // of milliseconds in Python's pool: a few seconds per round.
  config.restart = quick ? restart_params{2, 20, 20, microseconds(20), std::chrono::milliseconds(10),
                                          std::chrono::milliseconds(30'000)}
                         : restart_params{3, 40, 20, microseconds(20), std::chrono::milliseconds(10),
                                          std::chrono::milliseconds(30'000)};
  // 64 KiB of 64-byte messages: deep enough that the producer rarely waits
  // on the consumer's wake-up, as with a mailbox lane of that size.
  config.boost_queue_capacity = 1024;
  config.python_round_trip_hot = quick ? round_trip_params{100, 1'000, microseconds(0)}
                                       : round_trip_params{200, 4'000, microseconds(0)};
  config.python_round_trip_parked = config.round_trip_parked;
  return config;
}

std::vector<unsigned> bench_config::worker_counts(unsigned cpus) {
  std::vector<unsigned> counts;
  for (unsigned n = 1; n < cpus; n *= 2) counts.push_back(n);
  counts.push_back(cpus == 0 ? 1 : cpus);
  return counts;
}

}  // namespace procactor_bench
