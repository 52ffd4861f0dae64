// Bounded mailboxes: try_send says full at once, send gives up at its deadline.
#include <signal.h>

#include "support.hpp"

namespace bounded {

struct Hold {
  int milliseconds = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(milliseconds);
  }
};
struct Tick {
  std::uint64_t n = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n);
  }
};

}  // namespace bounded
PROCACTOR_MESSAGE(bounded::Hold);
PROCACTOR_MESSAGE(bounded::Tick);

namespace bounded {

class Sleeper : public procactor::Actor<Sleeper, Hold, Tick> {
 public:
  void on(const Hold& h) { std::this_thread::sleep_for(std::chrono::milliseconds(h.milliseconds)); }
  void on(const Tick&) {}
};

}  // namespace bounded
PROCACTOR_ACTOR(bounded::Sleeper);

using namespace itest;
using procactor::errc;

TEST_SUITE("bounded") {

TEST_CASE("with a small mailbox and a blocked handler, try_send returns full and a timed send times out" *
          doctest::timeout(60)) {
  actor_scope scope;  // kills the sleeper at the end
  procactor::SpawnOptions options;
  options.mailbox_capacity = 4096;
  options.restart = procactor::Restart::temporary;
  auto sleeper = scope.spawn<bounded::Sleeper>("sleeper", options);
  // Not committed while the handler sleeps, so the Hold's record keeps its
  // room too; the lane only fills from here.
  sleeper.send(bounded::Hold{60'000});

  std::uint64_t accepted = 0;
  errc last = errc::ok;
  for (std::uint64_t n = 0; n < 100'000 && last == errc::ok; ++n) {
    last = sleeper.try_send(bounded::Tick{n});
    if (last == errc::ok) ++accepted;
  }
  CHECK(last == errc::full);
  CHECK(accepted > 0);
  CHECK(accepted < 4096 / 8);  // every record takes more than 8 bytes
  CHECK(sleeper.try_send(bounded::Tick{0}) == errc::full);

  try {
    sleeper.send(bounded::Tick{0}, 100ms);
    FAIL("a send into a full lane returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::timeout);
  }
  // The actor is still alive and still holding: full is about room, not death.
  // (Under a sanitizer it may not have reached its handler loop yet.)
  const auto state = runtime().info(sleeper).state;
  CHECK((state == procactor::ActorState::running || state == procactor::ActorState::starting));
}

TEST_CASE("a fail_fast sender blocked on a full lane gives up with actor_died while the receiver restarts" *
          doctest::timeout(60)) {
  actor_scope scope;
  procactor::SpawnOptions options;
  options.mailbox_capacity = 4096;
  options.when_down = procactor::WhenDown::fail_fast;
  options.backoff.initial = std::chrono::milliseconds(5000);  // keeps it down while the sender waits
  options.backoff.jitter = 0;
  auto sleeper = scope.spawn<bounded::Sleeper>("sleeper", options);
  sleeper.send(bounded::Hold{60'000});
  while (sleeper.try_send(bounded::Tick{0}) == errc::ok) {
  }
  const int pid = sleeper.pid().value_or(-1);
  REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  REQUIRE(eventually([&] { return runtime().info(sleeper).state == procactor::ActorState::restarting; }));
  try {
    sleeper.send(bounded::Tick{0}, 20s);
    FAIL("a fail_fast send to a restarting actor with a full lane returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::actor_died);
  }
}

}  // TEST_SUITE
