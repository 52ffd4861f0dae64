// A least_loaded route gives work to whoever is free: a worker held in its
// handler gets no more than its two (one in the handler, one waiting), the
// free one gets the rest, every job is handled exactly once, and a sender
// whose targets are all busy waits for one instead of queueing more.
//
//   parent ──Emit{n}──▶ [source] ──Job 1..n (least_loaded)──┬──▶ [held]  (blocks while its hold file exists)
//                                                          └──▶ [free]
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
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
struct EmitRange {  // jobs first .. first + count - 1
  std::uint64_t first = 1;
  std::uint64_t count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(first, count);
  }
};

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace routes
PROCACTOR_MESSAGE(routes::Job);
PROCACTOR_MESSAGE(routes::Emit);
PROCACTOR_MESSAGE(routes::Handled);
PROCACTOR_MESSAGE(routes::EmitRange);

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

class RangeSource : public procactor::Actor<RangeSource, EmitRange> {
 public:
  std::uint64_t on(const EmitRange& e) {
    for (std::uint64_t seq = e.first; seq < e.first + e.count; ++seq) emit(Job{seq});
    return e.count;
  }
};

// Params: "dir". Appends each job's number to <dir>/seen-<its name>, so what
// it handled can be read after it has exited; holds as Worker does.
class Recorder : public procactor::Actor<Recorder, Job> {
 public:
  void on(const Job& job) {
    const std::string dir = params().get<std::string>("dir");
    std::ofstream(dir + "/started-" + name()).flush();
    while (exists(dir + "/hold-" + name())) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::ofstream(dir + "/seen-" + name(), std::ios::app) << job.seq << '\n';
  }
};

// Every job number each recorder in `dir` wrote, with repeats.
std::multiset<std::uint64_t> recorded(const std::string& dir) {
  std::multiset<std::uint64_t> all;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("seen-", 0) != 0) continue;
    std::ifstream in(entry.path());
    for (std::uint64_t seq = 0; in >> seq;) all.insert(seq);
  }
  return all;
}

}  // namespace routes
PROCACTOR_ACTOR(routes::Source);
PROCACTOR_ACTOR(routes::Worker);
PROCACTOR_ACTOR(routes::RangeSource);
PROCACTOR_ACTOR(routes::Recorder);

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

TEST_CASE("set_routes: a running sender takes a new replica into its route, and one taken out and closed while the "
          "sender waits on its full mailbox loses nothing: every job is handled exactly once" *
          doctest::timeout(180)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions worker_options;
  worker_options.params.set("dir", dir.path());
  worker_options.mailbox_capacity = 4096;  // the sender soon waits on a held one
  const auto w0 = scope.spawn<routes::Recorder>("w0", worker_options);
  const auto w1 = scope.spawn<routes::Recorder>("w1", worker_options);
  procactor::SpawnOptions source_options;
  source_options.routes.push_back({{w0.name(), w1.name()}, procactor::RoutePolicy::round_robin});
  const auto source = scope.spawn<routes::RangeSource>("source", source_options);
  REQUIRE(source.ask<std::uint64_t>(routes::EmitRange{1, 300}, 60s).get() == 300);

  // Scale up: a third replica, added to the running source's route.
  const auto w2 = scope.spawn<routes::Recorder>("w2", worker_options);
  runtime().set_routes(source, {{{w0.name(), w1.name(), w2.name()}, procactor::RoutePolicy::round_robin}});
  REQUIRE(source.ask<std::uint64_t>(routes::EmitRange{301, 300}, 60s).get() == 300);
  REQUIRE(eventually([&] { return runtime().info(w2).processed > 0; }, 60s));

  // Scale down while the source is in the middle of an emit: it sends only
  // to w2, which is held in a handler, so w2's mailbox fills and the source
  // sleeps in its send. Then w2 leaves the route and is closed: the send
  // ends with "closed" and the job goes to w0 or w1, and so do the rest. The
  // source finishes while w2 is still held; w2 then handles what it had
  // queued, and exits.
  std::ofstream(dir.file("hold-" + w2.name())).flush();
  runtime().set_routes(source, {{{w2.name()}, procactor::RoutePolicy::round_robin}});
  auto done = source.ask<std::uint64_t>(routes::EmitRange{601, 3000}, 120s);
  REQUIRE(eventually([&] { return routes::exists(dir.file("started-" + w2.name())); }, 60s));
  const int source_pid = *source.pid();
  REQUIRE(eventually([&] {
    std::string wchan;
    std::ifstream("/proc/" + std::to_string(source_pid) + "/task/" + std::to_string(source_pid) + "/wchan") >> wchan;
    return runtime().info(w2).queued_bytes + 128 > 4096 && wchan.find("futex") != std::string::npos;
  }, 60s));
  runtime().set_routes(source, {{{w0.name(), w1.name()}, procactor::RoutePolicy::round_robin}});
  w2.close();
  REQUIRE(done.get() == 3000);
  CHECK(runtime().info(w2).state == procactor::ActorState::running);  // still held
  ::unlink(dir.file("hold-" + w2.name()).c_str());
  REQUIRE(w2.join(60s));
  CHECK(runtime().info(w2).state == procactor::ActorState::exited);
  CHECK(runtime().info(source).dead_letters == 0);
  constexpr std::uint64_t jobs = 3600;
  REQUIRE(eventually([&] { return runtime().info(w0).processed + runtime().info(w1).processed +
                                      runtime().info(w2).processed >= jobs; }, 60s));
  const auto all = routes::recorded(dir.path());
  CHECK(all.size() == jobs);
  CHECK(std::set<std::uint64_t>(all.begin(), all.end()).size() == jobs);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == jobs);
}

TEST_CASE("set_routes: a sender restarted after the change starts with the new routes" * doctest::timeout(120)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions worker_options;
  worker_options.params.set("dir", dir.path());
  const auto a = scope.spawn<routes::Recorder>("a", worker_options);
  const auto b = scope.spawn<routes::Recorder>("b", worker_options);
  procactor::SpawnOptions source_options;
  source_options.routes.push_back({{a.name()}, procactor::RoutePolicy::round_robin});
  const auto source = scope.spawn<routes::RangeSource>("source", source_options);
  runtime().set_routes(source, {{{b.name()}, procactor::RoutePolicy::round_robin}});
  runtime().restart(source, {});
  REQUIRE(eventually([&] { return runtime().info(source).restarts == 1 &&
                                  runtime().info(source).state == procactor::ActorState::running; }, 60s));
  REQUIRE(source.ask<std::uint64_t>(routes::EmitRange{1, 50}, 60s).get() == 50);
  REQUIRE(eventually([&] { return runtime().info(b).processed == 50; }, 60s));
  CHECK(runtime().info(a).processed == 0);
}

}  // TEST_SUITE
