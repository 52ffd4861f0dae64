// Actor types for the CLI tests, built as a plugin the test graphs load.
//
// Tests that act on a running graph (stop it, kill an actor, Ctrl-C) need a
// graph that is still running when they act, however fast or slow the
// machine: these graphs run until they are stopped. Ticks are paced, so a
// run of them, even a thousand actors wide, leaves the cores to the tests.
#include <procactor/procactor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

namespace clitest {

struct Tick {
  std::int64_t n = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n);
  }
};

}  // namespace clitest

PROCACTOR_MESSAGE(clitest::Tick);

namespace clitest {

using procactor::ParamKind;

// Emits Tick 1, 2, 3... one every interval_ms (default 10) until it is
// closed; it never finishes on its own.
class Ticker : public procactor::Actor<Ticker> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"interval_ms", ParamKind::integer, false}}; }
  void run() override {
    const auto interval =
        std::chrono::milliseconds(std::max<std::int64_t>(1, params().get_or<std::int64_t>("interval_ms", 10)));
    for (std::int64_t n = 1; !stopping(); ++n) {
      emit(Tick{n});
      std::this_thread::sleep_for(interval);
    }
  }
};

// Passes every Tick on.
class Relay : public procactor::Actor<Relay, Tick> {
 public:
  void on(const Tick& tick) { emit(tick); }
};

// Counts Ticks; prints the count once its input has ended.
class Tally : public procactor::Actor<Tally, Tick> {
 public:
  void on(const Tick&) { ++total_; }
  void on_stop() override { std::cout << "total: " << total_ << std::endl; }

 private:
  std::int64_t total_ = 0;
};

// Never returns from its first Tick, so its drain cannot end: only a kill
// stops it. It says so first, so that a test knows when it is stuck.
class Stuck : public procactor::Actor<Stuck, Tick> {
 public:
  void on(const Tick& tick) {
    std::cout << "stuck on tick " << tick.n << std::endl;
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
};

// A member of a supervision group: passes every Tick on and says so when
// on_stop runs, so that a test can tell a graceful stop from a kill. With
// crash_on = N it aborts on tick N, every time it gets it (the tick is
// delivered again after each crash, until it becomes a dead letter),
// saying so on stderr first.
class Worker : public procactor::Actor<Worker, Tick> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"crash_on", ParamKind::integer, false}}; }
  void on(const Tick& tick) {
    if (tick.n == params().get_or<std::int64_t>("crash_on", 0)) {
      std::cerr << name() << ": crashing on tick " << tick.n << std::endl;
      std::abort();
    }
    emit(tick);
  }
  void on_stop() override { std::cout << name() << ": on_stop ran" << std::endl; }
};

}  // namespace clitest

PROCACTOR_ACTOR(clitest::Ticker);
PROCACTOR_ACTOR(clitest::Worker);
PROCACTOR_ACTOR(clitest::Relay);
PROCACTOR_ACTOR(clitest::Tally);
PROCACTOR_ACTOR(clitest::Stuck);
