// A 64-actor all-to-all graph (64 * 63 lanes) with default Options: it fits,
// because a lane starts at 4 KiB and grows only with its own traffic.
#include "support.hpp"

namespace alltoall {

struct Start {
  std::string prefix;
  int peers = 0;
  template <class A>
  void serialize(A& a) { a(prefix, peers); }
};
struct Note {
  int from = 0;
  template <class A>
  void serialize(A& a) { a(from); }
};
struct Heard {
  template <class A>
  void serialize(A&) {}
};

}  // namespace alltoall
PROCACTOR_MESSAGE(alltoall::Start);
PROCACTOR_MESSAGE(alltoall::Note);
PROCACTOR_MESSAGE(alltoall::Heard);

namespace alltoall {

// Sends one Note to every peer, and counts what it hears.
class Peer : public procactor::Actor<Peer, Start, Note, Heard> {
 public:
  void on(const Start& s) {
    for (int i = 0; i < s.peers; ++i) {
      if (i != replica()) find(s.prefix + std::to_string(i)).send(Note{replica()});
    }
  }
  void on(const Note&) { ++heard_; }
  int on(const Heard&) { return heard_; }

 private:
  int heard_ = 0;
};

}  // namespace alltoall
PROCACTOR_ACTOR(alltoall::Peer);

using namespace itest;

TEST_CASE("a 64-actor all-to-all graph fits, and its shared memory is what its lanes use" *
          doctest::timeout(300)) {
  constexpr int peers = 64;
  actor_scope scope;
  const std::string prefix = unique_name("peer") + "-";
  std::vector<procactor::ActorRef> refs;
  const auto shm_before = runtime().shared_memory_used();
  for (int i = 0; i < peers; ++i) {
    procactor::SpawnOptions options;
    options.replica = i;
    refs.push_back(runtime().spawn<alltoall::Peer>(prefix + std::to_string(i), options));
    scope.adopt(refs.back());
  }
  for (const auto& ref : refs) ref.send(alltoall::Start{prefix, peers});
  for (const auto& ref : refs) {
    CHECK(eventually([&] { return ref.ask<int>(alltoall::Heard{}, 60s).get() == peers - 1; }, 120s));
  }
  const auto shm = runtime().shared_memory_used() - shm_before;
  MESSAGE(peers << " actors all-to-all (" << peers * (peers - 1) << " lanes): shared memory " << shm / 1024
                << " KiB");
  // 64 * 63 lanes of 4 KiB, the mailboxes and reply lanes: tens of MiB,
  // where lanes made at their full 256 KiB would take a GiB.
  CHECK(shm < std::uint64_t{64} << 20);
}
