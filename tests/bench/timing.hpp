// Timing helpers shared by every workload.
//
// One clock (steady_clock: never jumps with NTP), warm-up runs that are thrown
// away, and the median of the rest. The median because this runs on noisy
// 2-vCPU VMs: a neighbour's burst moves the mean and the extremes, rarely the
// middle. Min and max are kept so a reader can see how noisy a figure was;
// p90 and p99 for latencies, whose tail is part of the figure.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace procactor_bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_between(bench_clock::time_point from, bench_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

inline double microseconds_between(bench_clock::time_point from, bench_clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

struct summary {
  double median = 0;
  double min = 0;
  double max = 0;
  std::size_t samples = 0;
  double p90 = 0;
  double p99 = 0;
  // Every sample, sorted: the rounds of a workload pool them for its tails
  // (a p99 over all rounds' kills, not a median of per-round maxima).
  std::vector<double> sorted;
};

// Nearest rank: the smallest sample with at least q of all samples at or
// below it. With fewer than 100 samples p99 is the maximum.
inline double nearest_rank(const std::vector<double>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(q * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

inline summary summarize(std::vector<double> samples) {
  if (samples.empty()) throw std::logic_error("summarize: no samples");
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  const double median =
      n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
  const double p90 = nearest_rank(samples, 0.90);
  const double p99 = nearest_rank(samples, 0.99);
  return {median, samples.front(), samples.back(), n, p90, p99, std::move(samples)};
}

// Calls `measure()` warmups + runs times and summarises the last `runs`
// results. `measure` returns one figure per call (msg/s, µs, a speedup).
template <class Measure>
summary repeat(int warmups, int runs, Measure&& measure) {
  std::vector<double> figures;
  figures.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < warmups + runs; ++i) {
    const double figure = measure();
    if (i >= warmups) figures.push_back(figure);
  }
  return summarize(std::move(figures));
}

// All samples of several summaries as one (the pooled tails of the rounds).
inline summary pooled(const std::vector<summary>& parts) {
  std::vector<double> all;
  for (const auto& part : parts) all.insert(all.end(), part.sorted.begin(), part.sorted.end());
  return summarize(std::move(all));
}

// Runs a stream workload as stream_params describes. `send_and_wait(n)`
// streams n messages and returns once the consumer has handled all of them;
// it returns the seconds that took. Figures are msg/s.
template <class SendAndWait>
summary stream_rate(const stream_params& params, SendAndWait&& send_and_wait) {
  if (params.min_messages == 0 || params.max_messages < params.min_messages) {
    throw std::invalid_argument("stream_params: need 0 < min_messages <= max_messages");
  }
  const double calibration_s = send_and_wait(params.min_messages);
  const double estimated_rate = static_cast<double>(params.min_messages) / calibration_s;
  const double wanted = estimated_rate * params.target_run_seconds;
  const std::uint64_t messages =
      wanted >= static_cast<double>(params.max_messages) ? params.max_messages
      : wanted <= static_cast<double>(params.min_messages)
          ? params.min_messages
          : static_cast<std::uint64_t>(wanted);
  return repeat(params.warmups, params.runs, [&] {
    return static_cast<double>(messages) / send_and_wait(messages);
  });
}

// A spin-wait hint: lets the sibling hyper-thread run and tells the CPU this
// is a spin loop, so leaving it does not cost a memory-order mis-speculation.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace procactor_bench
