// Pools: results equal the serial ones; a worker killed mid-task is replaced
// and its task re-run; a throwing task fails its future; a task that kills
// its worker every time ends as poisoned and the pool goes on.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <tuple>

#include "support.hpp"

namespace pooling {

std::int64_t mix(std::int64_t x, std::int64_t y) { return x * x - 3 * y + 7; }

// Leaves "started-<x>-<pid>" in `dir` so that the test knows which process
// runs it, then takes long enough to be killed in the middle.
std::int64_t slow_triple(std::int64_t x, std::string dir, std::int64_t milliseconds) {
  itest::append_line(dir + "/started-" + std::to_string(x) + "-" + std::to_string(::getpid()), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  return 3 * x;
}

std::int64_t reject_negative(std::int64_t x) {
  if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
  return x;
}

std::int64_t crash_worker(std::int64_t) { std::abort(); }

}  // namespace pooling
PROCACTOR_FUNCTION(pooling::mix);
PROCACTOR_FUNCTION(pooling::slow_triple);
PROCACTOR_FUNCTION(pooling::reject_negative);
PROCACTOR_FUNCTION(pooling::crash_worker);

using namespace itest;
using procactor::errc;

namespace {

procactor::PoolOptions pool_options(int poison_limit = 3) {
  procactor::PoolOptions options;
  options.name = unique_name("pool");
  options.poison_limit = poison_limit;
  return options;
}

}  // namespace

TEST_SUITE("pool") {

TEST_CASE("pool.map gives the serial results, in order" * doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 3, pool_options());
  std::vector<std::tuple<std::int64_t, std::int64_t>> items;
  std::vector<std::int64_t> serial;
  for (std::int64_t i = -100; i < 400; ++i) {
    items.emplace_back(i, i % 17);
    serial.push_back(pooling::mix(i, i % 17));
  }
  CHECK(pool.map(pooling::mix, items) == serial);
  CHECK(pool.submit(pooling::mix, 4, 1).get() == pooling::mix(4, 1));
}

TEST_CASE("a pool worker SIGKILLed in the middle of a task is replaced and the task's result is still right" *
          doctest::timeout(90)) {
  temp_dir dir;
  procactor::Pool pool(runtime(), 2, pool_options());
  std::vector<procactor::Future<std::int64_t>> futures;
  for (std::int64_t x = 0; x < 8; ++x) futures.push_back(pool.submit(pooling::slow_triple, x, dir.path(), 400));

  // Task 0 went to worker 0; wait until it runs there, then kill that process.
  std::string marker;
  REQUIRE(eventually([&] {
    for (const auto& name : list_dir(dir.path())) {
      if (name.starts_with("started-0-")) marker = name;
    }
    return !marker.empty();
  }));
  const int victim = std::stoi(marker.substr(std::string("started-0-").size()));
  CHECK(victim == pool.workers()[0].pid());
  REQUIRE(::kill(victim, SIGKILL) == 0);

  for (std::int64_t x = 0; x < 8; ++x) CHECK(futures[static_cast<std::size_t>(x)].get() == 3 * x);

  // Task 0 ran again, in another process: the replacement worker.
  int runs_of_task0 = 0;
  for (const auto& name : list_dir(dir.path())) runs_of_task0 += name.starts_with("started-0-") ? 1 : 0;
  CHECK(runs_of_task0 >= 2);
  CHECK(pool.workers()[0].pid() != victim);
  CHECK(runtime().info(pool.workers()[0]).restarts >= 1);
  // And the pool still works on every worker.
  std::vector<std::tuple<std::int64_t, std::int64_t>> items{{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  CHECK(pool.map(pooling::mix, items) ==
        std::vector<std::int64_t>{pooling::mix(1, 2), pooling::mix(3, 4), pooling::mix(5, 6), pooling::mix(7, 8)});
}

TEST_CASE("a pool task that throws fails its future with errc::handler_threw and the exception's message" *
          doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 2, pool_options());
  try {
    (void)pool.submit(pooling::reject_negative, -5).get();
    FAIL("the throwing task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK(e.message().find("negative input -5") != std::string::npos);
  }
  CHECK(pool.submit(pooling::reject_negative, 5).get() == 5);
  for (const auto& worker : pool.workers()) CHECK(runtime().info(worker).restarts == 0);
}

TEST_CASE("a pool task that crashes its worker every time ends as errc::poisoned and the pool keeps working" *
          doctest::timeout(90)) {
  constexpr int poison_limit = 3;
  procactor::Pool pool(runtime(), 2, pool_options(poison_limit));
  const auto worker = pool.workers()[0];  // round robin: the first task goes to worker 0
  try {
    (void)pool.submit(pooling::crash_worker, 1).get();
    FAIL("the crashing task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::poisoned);
  }
  CHECK(runtime().info(worker).restarts == poison_limit);
  REQUIRE(eventually([&] { return !dead_letters_of(worker.name()).empty(); }));
  const auto letters = dead_letters_of(worker.name());
  CHECK(letters.size() == 1);
  CHECK(letters.front().reason.find("poisoned") != std::string::npos);

  // Every worker, the one that crashed included, still answers.
  std::vector<procactor::Future<std::int64_t>> futures;
  for (std::int64_t x = 0; x < 6; ++x) futures.push_back(pool.submit(pooling::reject_negative, x));
  for (std::int64_t x = 0; x < 6; ++x) CHECK(futures[static_cast<std::size_t>(x)].get() == x);
  CHECK(runtime().info(worker).state == procactor::ActorState::running);
}

}  // TEST_SUITE
