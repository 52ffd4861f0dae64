// Sizes a single host allows, through the public API and default Options:
// a thousand actors that each answer an ask, with the shared memory they
// really use (the all-to-all graph is in test_all_to_all.cpp). The figures (start-up time,
// memory per actor, descriptors) are reported, never asserted.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace scale {

struct Ping {
  template <class A>
  void serialize(A&) {}
};

}  // namespace scale
PROCACTOR_MESSAGE(scale::Ping);

namespace scale {

class Idle : public procactor::Actor<Idle, Ping> {
 public:
  int on(const Ping&) { return static_cast<int>(::getpid()); }
};

}  // namespace scale
PROCACTOR_ACTOR(scale::Idle);

using namespace itest;

namespace {

// "Rss:" and "Pss:" of /proc/<pid>/smaps_rollup, in KiB.
std::pair<std::uint64_t, std::uint64_t> rss_pss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::uint64_t rss = 0, pss = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Rss:", 0) == 0) rss = std::stoull(line.substr(4));
    if (line.rfind("Pss:", 0) == 0) pss = std::stoull(line.substr(4));
  }
  return {rss, pss};
}

std::uint64_t own_rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

}  // namespace

TEST_SUITE("scale") {

TEST_CASE("a thousand actors spawned with default options each answer an ask" * doctest::timeout(600)) {
  constexpr int count = 1000;
  actor_scope scope;
  const auto shm_before = runtime().shared_memory_used();
  const auto started = std::chrono::steady_clock::now();
  std::vector<procactor::ActorRef> actors;
  for (int i = 0; i < count; ++i) actors.push_back(scope.spawn<scale::Idle>("idle"));
  std::vector<procactor::Future<int>> answers;
  for (const auto& actor : actors) answers.push_back(actor.ask<int>(scale::Ping{}, 300s));
  int answered = 0;
  for (std::size_t i = 0; i < actors.size(); ++i) {
    const int pid = answers[i].get();
    if (actors[i].pid() == pid) ++answered;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(answered == count);

  std::uint64_t rss = 0, pss = 0;
  for (const auto& actor : actors) {
    const auto [r, p] = rss_pss_kib(actor.pid().value_or(-1));
    rss += r;
    pss += p;
  }
  const auto fds = std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                 std::filesystem::directory_iterator{});
  const auto shm = runtime().shared_memory_used() - shm_before;
  MESSAGE(count << " actors spawned and answering in " << seconds << " s; per actor RSS " << rss / count
                << " KiB, PSS " << pss / count << " KiB; supervisor RSS " << own_rss_kib() << " KiB, " << fds
                << " open fds; shared memory " << shm / 1024 << " KiB (" << shm / count << " bytes per actor)");
  // Mailboxes and one small lane each way: memory follows use, it is not
  // reserved up front for lanes that never carry anything.
  CHECK(shm < std::uint64_t{64} << 20);
}

}  // TEST_SUITE
