// CPU-bound fan-out: count the primes below N with one worker process per
// core, then with one process, and compare.
//
//            ┌─▶ [worker.0] ─┐
//   main ────┼─▶ [worker.1] ─┼──▶ sum
//            └─▶ [worker.N] ─┘
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <procactor/procactor.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "../plugin/primes.hpp"

std::int64_t count_primes(std::int64_t from, std::int64_t to) { return examples::count_primes(from, to); }
PROCACTOR_FUNCTION(count_primes);

int main(int argc, char** argv) {
  procactor::Runtime runtime(argc, argv);
  const std::int64_t limit = argc > 1 ? std::atoll(argv[1]) : 20'000'000;
  // example-primes [N] [WORKERS]: WORKERS defaults to one per core.
  const unsigned cores = argc > 2 ? static_cast<unsigned>(std::max(1, std::atoi(argv[2])))
                                  : std::max(1U, std::thread::hardware_concurrency());
  // Many more chunks than workers, so that an uneven chunk cannot leave a
  // core idle at the end.
  const std::int64_t chunks = cores * 64;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  for (std::int64_t i = 0; i < chunks; ++i) ranges.emplace_back(limit * i / chunks, limit * (i + 1) / chunks);

  using clock = std::chrono::steady_clock;
  // Pinned like the graph's cpu = "spread": worker i on core i.
  procactor::PoolOptions options;
  options.pin_cpus = true;
  procactor::Pool pool(runtime, cores, options);
  const auto parallel_start = clock::now();
  std::int64_t parallel = 0;
  for (auto count : pool.map(count_primes, ranges)) parallel += count;
  const std::chrono::duration<double> parallel_time = clock::now() - parallel_start;
  pool.close();

  const auto serial_start = clock::now();
  const std::int64_t serial = count_primes(0, limit);
  const std::chrono::duration<double> serial_time = clock::now() - serial_start;

  std::cout << std::fixed << std::setprecision(3);
  std::cout << "primes below " << limit << ": " << parallel << " with " << cores << " worker processes in "
            << parallel_time.count() << " s\n";
  std::cout << "primes below " << limit << ": " << serial << " in one process in " << serial_time.count() << " s\n";
  std::cout << "speedup: " << std::setprecision(2) << serial_time.count() / parallel_time.count() << "x on " << cores
            << " cores\n";
  if (parallel != serial) {
    std::cerr << "error: the counts differ\n";
    return 1;
  }
  return 0;
}
