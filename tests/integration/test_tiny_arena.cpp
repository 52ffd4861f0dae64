// When the run's shared memory runs out, the caller hears it at once, with an
// error that names the limit and the option to raise: never a dropped reply
// and a timeout. Each test case runs in a process of its own (ctest), as
// each needs the arena in its own state.
#include "arena.hpp"
#include "process.hpp"
#include "support.hpp"

namespace tiny {

struct Ping {
  template <class A>
  void serialize(A&) {}
};
struct Tag {
  template <class A>
  void serialize(A&) {}
};

}  // namespace tiny
PROCACTOR_MESSAGE(tiny::Ping);
PROCACTOR_MESSAGE(tiny::Tag);

namespace tiny {

class Idle : public procactor::Actor<Idle, Ping> {
 public:
  int on(const Ping&) { return 1; }
};

// Answers with its "tag" parameter, or "" when it was given none.
class Tagged : public procactor::Actor<Tagged, Tag> {
 public:
  std::string on(const Tag&) { return params().get_or<std::string>("tag", ""); }
};

}  // namespace tiny
PROCACTOR_ACTOR(tiny::Idle);
PROCACTOR_ACTOR(tiny::Tagged);

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

// A spawn takes shared memory for the mailboxes, the parameters and the
// routes, in that order, and fills its actor's slot entry. One that runs
// out after its parameters took their space fails, and the next spawn is
// given the same slot: it must not find the failed one's parameters there.
TEST_CASE("a spawn that ran out of shared memory half-way leaves nothing in its slot for the next" *
          doctest::timeout(150)) {
  actor_scope scope;
  const procactor::detail::arena& shm = procactor::detail::process::current()->shm();
  const auto left = [&] { return shm.size() - shm.used(); };
  procactor::Route big;
  for (int i = 0; i < 3000; ++i) big.targets.push_back("a-target-with-a-long-name-" + std::to_string(i));
  procactor::SpawnOptions failing;
  failing.params.set("tag", std::string("the failed spawn's"));
  failing.routes.push_back(big);

  // Fill the arena until what is left holds two actors and their first
  // lanes, but not the routes above (about 100 KB encoded).
  const std::uint64_t before = shm.used();
  std::vector<procactor::ActorRef> fill{scope.spawn<tiny::Idle>("fill")};
  const std::uint64_t one = shm.used() - before;  // an actor's mailbox and inbox
  constexpr std::uint64_t lanes = 16 << 10;
  while (left() >= 3 * one + lanes) fill.push_back(scope.spawn<tiny::Idle>("fill"));
  REQUIRE(left() >= 2 * one + lanes);
  REQUIRE(left() < 80'000);

  try {
    (void)scope.spawn<tiny::Tagged>("failed", failing);
    FAIL("a spawn whose routes do not fit in the arena returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::arena_exhausted);
  }
  procactor::ActorRef next = scope.spawn<tiny::Tagged>("next");
  CHECK(next.ask<std::string>(tiny::Tag{}, 30s).get() == "");
}
