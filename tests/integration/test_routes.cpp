// A least_loaded route gives work to whoever is free: a worker held in its
// handler gets no more than its two (one in the handler, one waiting), the
// free one gets the rest, every job is handled exactly once, and a sender
// whose targets are all busy waits for one instead of queueing more.
//
//   parent ──Emit{n}──▶ [source] ──Job 1..n (least_loaded)──┬──▶ [held]  (blocks while its hold file exists)
//                                                          └──▶ [free]
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "support.hpp"

namespace routes {

struct Job {
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq);
  }
};
struct Emit {
  std::uint64_t count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(count);
  }
};
struct Handled {  // asks a worker what it has handled
  template <class Archive>
  void serialize(Archive&) {}
};

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace routes
PROCACTOR_MESSAGE(routes::Job);
PROCACTOR_MESSAGE(routes::Emit);
PROCACTOR_MESSAGE(routes::Handled);

namespace routes {

class Source : public procactor::Actor<Source, Emit> {
 public:
  std::uint64_t on(const Emit& e) {
    for (std::uint64_t seq = 1; seq <= e.count; ++seq) emit(Job{seq});
    return e.count;
  }
};

// Params: "dir". While <dir>/hold-<its name> exists it stays in the handler
// of the job in hand; it writes <dir>/started-<its name> when it starts one.
class Worker : public procactor::Actor<Worker, Job, Handled> {
 public:
  void on(const Job& job) {
    const std::string dir = params().get<std::string>("dir");
    std::ofstream(dir + "/started-" + name()).flush();
    while (exists(dir + "/hold-" + name())) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    seen_.push_back(job.seq);
  }
  std::vector<std::uint64_t> on(const Handled&) { return seen_; }

 private:
  std::vector<std::uint64_t> seen_;
};

}  // namespace routes
PROCACTOR_ACTOR(routes::Source);
PROCACTOR_ACTOR(routes::Worker);

using namespace itest;

TEST_SUITE("routes") {

TEST_CASE("least_loaded: a held worker gets at most two jobs, the free one the rest, each job handled once" *
          doctest::timeout(120)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions worker_options;
  worker_options.params.set("dir", dir.path());
  const auto held = scope.spawn<routes::Worker>("held", worker_options);
  const auto free = scope.spawn<routes::Worker>("free", worker_options);
  std::ofstream(dir.file("hold-" + held.name())).flush();

  procactor::SpawnOptions source_options;
  source_options.routes.push_back({{held.name(), free.name()}, procactor::RoutePolicy::least_loaded});
  const auto source = scope.spawn<routes::Source>("source", source_options);

  constexpr std::uint64_t jobs = 200;
  REQUIRE(source.ask<std::uint64_t>(routes::Emit{jobs}, 60s).get() == jobs);
  // Every job is sent; the held worker is still in its first handler.
  REQUIRE(eventually([&] { return routes::exists(dir.file("started-" + held.name())); }, 30s));
  ::unlink(dir.file("hold-" + held.name()).c_str());
  // The source has sent them all; the workers have handled them all once
  // their counters say so (a Handled ask from here travels in another lane
  // and could overtake the last jobs).
  REQUIRE(eventually([&] { return runtime().info(held).processed + runtime().info(free).processed == jobs; }, 60s));

  const auto from_held = held.ask<std::vector<std::uint64_t>>(routes::Handled{}, 30s).get();
  const auto from_free = free.ask<std::vector<std::uint64_t>>(routes::Handled{}, 30s).get();
  CAPTURE(from_held.size());
  CAPTURE(from_free.size());
  CHECK(from_held.size() <= 2);
  CHECK(from_held.size() + from_free.size() == jobs);
  std::set<std::uint64_t> all(from_held.begin(), from_held.end());
  all.insert(from_free.begin(), from_free.end());
  CHECK(all.size() == jobs);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == jobs);
}

TEST_CASE("least_loaded: with every worker held the sender waits after two jobs each, and goes on when one is free" *
          doctest::timeout(120)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions worker_options;
  worker_options.params.set("dir", dir.path());
  const auto a = scope.spawn<routes::Worker>("a", worker_options);
  const auto b = scope.spawn<routes::Worker>("b", worker_options);
  for (const auto& w : {a, b}) std::ofstream(dir.file("hold-" + w.name())).flush();

  procactor::SpawnOptions source_options;
  source_options.routes.push_back({{a.name(), b.name()}, procactor::RoutePolicy::least_loaded});
  const auto source = scope.spawn<routes::Source>("source", source_options);

  constexpr std::uint64_t jobs = 20;
  auto done = source.ask<std::uint64_t>(routes::Emit{jobs}, 60s);
  // Both workers are in a handler, each with one more job waiting: the
  // source has sent four and waits for credit. The mailboxes show it.
  REQUIRE(eventually([&] {
    return routes::exists(dir.file("started-" + a.name())) && routes::exists(dir.file("started-" + b.name()));
  }, 30s));
  REQUIRE(eventually([&] { return runtime().info(a).queued_bytes > 0 && runtime().info(b).queued_bytes > 0; }, 30s));
  CHECK_FALSE(done.ready());
  CHECK(runtime().info(a).processed == 0);
  CHECK(runtime().info(b).processed == 0);

  for (const auto& w : {a, b}) ::unlink(dir.file("hold-" + w.name()).c_str());
  REQUIRE(done.get() == jobs);
  REQUIRE(eventually([&] { return runtime().info(a).processed + runtime().info(b).processed == jobs; }, 60s));
  const auto from_a = a.ask<std::vector<std::uint64_t>>(routes::Handled{}, 30s).get();
  const auto from_b = b.ask<std::vector<std::uint64_t>>(routes::Handled{}, 30s).get();
  CHECK(from_a.size() + from_b.size() == jobs);
}

}  // TEST_SUITE
