#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "light_lock.hpp"

using procactor::detail::light_lock;

TEST_CASE("a light_lock admits one thread at a time: no increment under it is lost") {
  light_lock lock;
  std::uint64_t counter = 0;  // plain: only the lock keeps the threads apart
  constexpr int threads = 4;
  constexpr int rounds = 50'000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        if (i % 2 == 0) {
          std::lock_guard guard(lock);
          ++counter;
        } else {
          while (!lock.try_lock()) std::this_thread::yield();
          ++counter;
          lock.unlock();
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  CHECK(counter == std::uint64_t{threads} * rounds);
}

TEST_CASE("a held light_lock refuses try_lock from another thread until it is released") {
  light_lock lock;
  lock.lock();
  bool taken = true;
  std::thread([&] { taken = lock.try_lock(); }).join();
  CHECK_FALSE(taken);
  lock.unlock();
  std::thread([&] {
    taken = lock.try_lock();
    if (taken) lock.unlock();
  }).join();
  CHECK(taken);
}
