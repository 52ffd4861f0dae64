// CPU-bound fan-out: count the primes below N with one worker process per
// core, then with one process, and compare.
//
//            ┌─▶ [worker.0] ─┐
//   main ────┼─▶ [worker.1] ─┼──▶ sum
//            └─▶ [worker.N] ─┘
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <iostream>
#include <optional>
#include <procactor/procactor.hpp>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../plugin/primes.hpp"

std::int64_t count_primes(std::int64_t from, std::int64_t to) { return examples::count_primes(from, to); }
PROCACTOR_FUNCTION(count_primes);

// A whole number from `low` to `high`, all of `text`; nullopt otherwise.
std::optional<std::int64_t> whole_number(std::string_view text, std::int64_t low, std::int64_t high) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) return std::nullopt;
  return value;
}

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);
  // example-primes [N] [WORKERS]: WORKERS defaults to one per core. N is
  // capped so that N times the number of chunks cannot overflow.
  constexpr std::int64_t max_limit = 1'000'000'000'000;
  constexpr std::int64_t max_workers = 1000;
  const std::optional<std::int64_t> limit_arg = argc > 1 ? whole_number(argv[1], 0, max_limit) : 20'000'000;
  const std::optional<std::int64_t> workers_arg =
      argc > 2 ? whole_number(argv[2], 1, max_workers)
               : std::max<std::int64_t>(1, std::thread::hardware_concurrency());
  if (argc > 3 || !limit_arg || !workers_arg) {
    if (argc > 3) {
      std::cerr << "example-primes: too many arguments ('" << argv[3] << "' and after)\n";
    } else if (!limit_arg) {
      std::cerr << "example-primes: N is not a whole number from 0 to " << max_limit << ": '" << argv[1] << "'\n";
    } else {
      std::cerr << "example-primes: WORKERS is not a whole number from 1 to " << max_workers << ": '" << argv[2]
                << "'\n";
    }
    std::cerr << "usage: example-primes [N] [WORKERS]\n"
                 "  N        count the primes below N: 0 to "
              << max_limit << " (default 20000000)\n"
                 "  WORKERS  worker processes: 1 to "
              << max_workers << " (default one per core)\n";
    return 2;
  }
  const std::int64_t limit = *limit_arg;
  const auto workers = static_cast<unsigned>(*workers_arg);
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  // Many more chunks than workers, so that an uneven chunk cannot leave a
  // core idle at the end.
  const std::int64_t chunks = std::int64_t{workers} * 64;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (std::int64_t i = 0; i < chunks; ++i) ranges.emplace_back(limit * i / chunks, limit * (i + 1) / chunks);

  using clock = std::chrono::steady_clock;
  // Pinned like the graph's cpu = "spread": worker i on core i.
  procactor::PoolOptions options;
  options.pin_cpus = true;
  std::int64_t parallel = 0;
  std::chrono::duration<double> parallel_time{};
  try {
    procactor::Pool pool(runtime, workers, options);
    const auto parallel_start = clock::now();
    for (auto count : pool.map(count_primes, ranges)) parallel += count;
    parallel_time = clock::now() - parallel_start;
    pool.close();
  } catch (const std::exception& e) {
    std::cerr << "example-primes: error: " << e.what() << "\n";
    return 1;
  }

  const auto serial_start = clock::now();
  const std::int64_t serial = count_primes(0, limit);
  const std::chrono::duration<double> serial_time = clock::now() - serial_start;

  std::cout << std::fixed << std::setprecision(3);
  const auto counted = [](unsigned n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  std::cout << "primes below " << limit << ": " << parallel << " with " << workers
            << (workers == 1 ? " worker process" : " worker processes") << " in " << parallel_time.count() << " s\n";
  std::cout << "primes below " << limit << ": " << serial << " in one process in " << serial_time.count() << " s\n";
  std::cout << "speedup: " << std::setprecision(2) << serial_time.count() / parallel_time.count() << "x with "
            << counted(workers, "worker") << " on " << counted(cores, "core") << "\n";
  if (parallel != serial) {
    std::cerr << "error: the counts differ\n";
    return 1;
  }
  return 0;
}
