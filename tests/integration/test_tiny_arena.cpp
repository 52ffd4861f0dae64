// When the run's shared memory runs out, the caller hears it at once, with an
// error that names the limit and the option to raise: never a dropped reply
// and a timeout.
#include "support.hpp"

namespace tiny {

struct Ping {
  template <class A>
  void serialize(A&) {}
};

}  // namespace tiny
PROCACTOR_MESSAGE(tiny::Ping);

namespace tiny {

class Idle : public procactor::Actor<Idle, Ping> {
 public:
  int on(const Ping&) { return 1; }
};

}  // namespace tiny
PROCACTOR_ACTOR(tiny::Idle);

using namespace itest;
using procactor::errc;

TEST_CASE("when shared memory is exhausted, spawn, send and ask fail at once with arena_exhausted naming the limit" *
          doctest::timeout(150)) {
  actor_scope scope;
  std::vector<procactor::ActorRef> actors;
  for (;;) {
    try {
      actors.push_back(scope.spawn<tiny::Idle>("idle"));
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::arena_exhausted);
      CHECK(e.message().find("Options::arena_size") != std::string::npos);
      break;
    }
    REQUIRE_MESSAGE(actors.size() < 500, "the arena never ran out");
  }
  MESSAGE(actors.size() << " actors filled an arena of " << runtime().shared_memory_used() << " bytes");
  REQUIRE(actors.size() >= 3);

  // Each first send needs a lane: some fit in what is left, then none does.
  std::size_t refused = actors.size();
  for (std::size_t i = 0; i < actors.size(); ++i) {
    const errc result = actors[i].try_send(tiny::Ping{});
    if (result == errc::arena_exhausted) {
      refused = i;
      break;
    }
    CHECK(result == errc::ok);
  }
  REQUIRE(refused + 1 < actors.size());
  try {
    actors[refused].send(tiny::Ping{});
    FAIL("a send with no room for its lane returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::arena_exhausted);
    CHECK(e.message().find("Options::arena_size") != std::string::npos);
  }
  // An ask makes its reply's lane before it sends: it fails now, whatever
  // its timeout, rather than lose the reply later.
  try {
    (void)actors[refused + 1].ask<int>(tiny::Ping{}, 3600s).get();
    FAIL("an ask with no room for its lanes returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::arena_exhausted);
  }
  // What was delivered before still works.
  if (refused > 0) CHECK_NOTHROW(actors[0].send(tiny::Ping{}));
}
