// Waiters pinned to one CPU (runtime/cpu_share.hpp): an asker and its
// actor pinned to the same CPU note it in their slot entries and then park
// for each other instead of spinning. Every ask is still answered with its
// own value: a park that skipped its spin must not miss the write that
// should wake it.
#include <chrono>
#include <cstdint>
#include <thread>

#include "../bench/one_cpu.hpp"  // pinned_to_one_cpu: the bench pins its one-CPU round trip alike
#include "arena.hpp"
#include "process.hpp"
#include "support.hpp"

namespace shared_cpu {

struct Echo {
  std::uint64_t value = 0;
  int nap_ms = 0;  // sleeps this long before it answers
  template <class A>
  void serialize(A& a) {
    a(value, nap_ms);
  }
};

}  // namespace shared_cpu
PROCACTOR_MESSAGE(shared_cpu::Echo);

namespace shared_cpu {

class Echoer : public procactor::Actor<Echoer, Echo> {
 public:
  std::uint64_t on(const Echo& e) {
    if (e.nap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(e.nap_ms));
    return e.value;
  }
};

}  // namespace shared_cpu
PROCACTOR_ACTOR(shared_cpu::Echoer);

using namespace std::chrono_literals;
using namespace procactor;
using namespace itest;

TEST_SUITE("shared cpu") {

TEST_CASE("an asker and its actor pinned to one CPU note it in their slots and every ask is answered" *
          doctest::timeout(120)) {
  const procactor_bench::pinned_to_one_cpu pin;
  actor_scope scope;
  SpawnOptions options;
  options.cpu = pin.cpu();
  auto echo = scope.spawn<shared_cpu::Echoer>("echoer", std::move(options));

  // A wait that outlasts its first polls notes the CPU its thread is
  // pinned to: this thread's, for an answer 20 ms away (a pin is seen
  // within 10 ms); the actor's, for a next message that does not come.
  const auto& shm = detail::process::current()->shm();
  const detail::slot_entry& asker = shm.slot(detail::process::current()->self());
  const detail::slot_entry& actor = shm.slot(echo.slot());
  CHECK(eventually([&] {
    const bool answered = echo.ask<std::uint64_t>(shared_cpu::Echo{7, 20}, 30s).get() == 7;
    return answered && asker.waits_on.load() == pin.cpu() + 1 && actor.waits_on.load() == pin.cpu() + 1;
  }));

  // Back to back, each side parking for the other at once: no answer is
  // lost or mixed up.
  int wrong = 0;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    if (echo.ask<std::uint64_t>(shared_cpu::Echo{i, 0}, 30s).get() != i) ++wrong;
  }
  CHECK(wrong == 0);
}

}  // TEST_SUITE
