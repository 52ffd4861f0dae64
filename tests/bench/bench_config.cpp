#include "bench_config.hpp"

namespace procactor_bench {

// Sizes are chosen so that each figure is the median of several runs lasting
// well over the clock's and the scheduler's granularity, and so that --quick
// stays under 60 s on 2 vCPUs with every baseline included.
bench_config bench_config::make(bool quick) {
  using std::chrono::microseconds;
  bench_config config;
  config.quick = quick;
  // One set of stream parameters for every contender, Python included: the
  // run length is what is held equal (see stream_params).
  config.stream = quick ? stream_params{20'000, 5'000'000, 0.25, 0, 3}
                        : stream_params{20'000, 20'000'000, 1.0, 1, 5};
  config.round_trip_hot = quick ? round_trip_params{500, 5'000, microseconds(0)}
                                : round_trip_params{1'000, 20'000, microseconds(0)};
  // 2 ms between round trips: far longer than any sensible spin phase, so the
  // receiver is parked (asleep in the kernel) when each request arrives.
  config.round_trip_parked = quick ? round_trip_params{10, 200, microseconds(2'000)}
                                   : round_trip_params{20, 1'000, microseconds(2'000)};
  // 16 chunks per worker: later chunks cost more (trial division), and the
  // pool hands tasks out in turn, so fewer chunks would leave one worker
  // with visibly more work than the other.
  config.primes = quick ? primes_params{3'000'000, 16, 0, 1} : primes_params{8'000'000, 16, 1, 3};
  // The chunk of examples/graphs/primes.toml. 20 million as in that file; 3
  // million keeps --quick's serial count and graph run to a few seconds.
  config.primes_graph = quick ? primes_graph_params{3'000'000, 50'000}
                              : primes_graph_params{20'000'000, 50'000};
  // Each launch of 64 actors takes well under a second; one warm-up launch
  // pages the launcher, the runtime and the plugin in.
  config.launch_ready = quick ? launch_ready_params{64, 1, 3} : launch_ready_params{64, 1, 5};
  // 200 kills (50 with --quick) so that p99 is a sample, not the maximum,
  // in the full run. A restart takes milliseconds here and tens of
  // milliseconds in Python's pool: a few seconds in all.
  config.restart = quick ? restart_params{3, 50, 20, microseconds(20), std::chrono::milliseconds(10),
                                          std::chrono::milliseconds(30'000)}
                         : restart_params{5, 200, 20, microseconds(20), std::chrono::milliseconds(10),
                                          std::chrono::milliseconds(30'000)};
  // 64 KiB of 64-byte messages: deep enough that the producer rarely waits
  // on the consumer's wake-up, as with a mailbox lane of that size.
  config.boost_queue_capacity = 1024;
  config.python_round_trip_hot = quick ? round_trip_params{200, 3'000, microseconds(0)}
                                       : round_trip_params{500, 20'000, microseconds(0)};
  config.python_round_trip_parked = config.round_trip_parked;
  return config;
}

}  // namespace procactor_bench
