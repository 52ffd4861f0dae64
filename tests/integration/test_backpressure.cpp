// An emit into a full lane waits for room as long as its target lives: a
// consumer far behind slows its producer down, it does not crash it. With
// send_timeout as the emit's deadline, a source whose worker was more than
// 30 s behind threw out of its loop, and its restart sent its ranges again.
//
//   parent ──Emit{n}──▶ [source] ──Job 1..n (round_robin)──▶ [worker] (held while its hold file exists)
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace backpressure {

struct Job {
  std::uint64_t seq = 0;
  std::string filler;  // a few records fill the 4 KiB lane
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq, filler);
  }
};
struct Emit {
  std::uint64_t count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(count);
  }
};
struct Handled {
  template <class Archive>
  void serialize(Archive&) {}
};
// Makes a Source send `count` Jobs to `to` with plain sends.
struct SendDirect {
  std::string to;
  std::uint64_t count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(to, count);
  }
};

}  // namespace backpressure
PROCACTOR_MESSAGE(backpressure::Job);
PROCACTOR_MESSAGE(backpressure::Emit);
PROCACTOR_MESSAGE(backpressure::Handled);
PROCACTOR_MESSAGE(backpressure::SendDirect);

namespace backpressure {

class Source : public procactor::Actor<Source, Emit, SendDirect> {
 public:
  std::uint64_t on(const Emit& e) {
    for (std::uint64_t seq = 1; seq <= e.count; ++seq) emit(Job{seq, std::string(200, 'x')});
    return e.count;
  }
  std::uint64_t on(const SendDirect& s) {
    const procactor::ActorRef to = find(s.to);
    for (std::uint64_t seq = 1; seq <= s.count; ++seq) to.send(Job{seq, std::string(200, 'x')});
    return s.count;
  }
};

// Params: "hold". Stays in the handler of the job in hand while that file
// exists; writes "<hold>.started" when it first does.
class Worker : public procactor::Actor<Worker, Job, Handled> {
 public:
  void on(const Job& job) {
    const std::string hold = params().get<std::string>("hold");
    std::ofstream(hold + ".started").flush();
    struct stat info {};
    while (::stat(hold.c_str(), &info) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    seen_.push_back(job.seq);
  }
  std::vector<std::uint64_t> on(const Handled&) { return seen_; }

 private:
  std::vector<std::uint64_t> seen_;
};

}  // namespace backpressure
PROCACTOR_ACTOR(backpressure::Source);
PROCACTOR_ACTOR(backpressure::Worker);

using namespace itest;

TEST_CASE("an emit into a full lane waits past send_timeout while its target lives and loses nothing" *
          doctest::timeout(90)) {
  REQUIRE(runtime().options().send_timeout == std::chrono::milliseconds(200));
  actor_scope scope;
  temp_dir dir;
  const std::string hold = dir.file("hold");
  std::ofstream(hold).flush();
  procactor::SpawnOptions worker_options;
  worker_options.mailbox_capacity = 4096;  // about 15 jobs
  worker_options.params.set("hold", hold);
  auto worker = scope.spawn<backpressure::Worker>("worker", worker_options);
  procactor::SpawnOptions source_options;
  source_options.routes = {procactor::Route{{worker.name()}, procactor::RoutePolicy::round_robin}};
  auto source = scope.spawn<backpressure::Source>("source", source_options);

  constexpr std::uint64_t count = 300;
  auto emitted = source.ask<std::uint64_t>(backpressure::Emit{count}, 60s);
  // The worker holds its first job; the source fills the lane and waits.
  REQUIRE(eventually([&] { return std::ifstream(hold + ".started").good(); }));
  REQUIRE(eventually([&] { return runtime().info(worker).queued_bytes >= 2048; }));
  // Ten times send_timeout with the lane full: the source still waits.
  std::this_thread::sleep_for(2s);
  CHECK(runtime().info(source).restarts == 0);
  CHECK(runtime().info(source).state == procactor::ActorState::running);
  std::filesystem::remove(hold);

  CHECK(emitted.get() == count);
  // (Handled comes on a lane of its own: asked once every job is in.)
  REQUIRE(eventually([&] { return runtime().info(worker).processed >= count; }));
  std::vector<std::uint64_t> expected(count);
  for (std::uint64_t i = 0; i < count; ++i) expected[i] = i + 1;
  CHECK(worker.ask<std::vector<std::uint64_t>>(backpressure::Handled{}, 60s).get() == expected);
  CHECK(runtime().info(source).restarts == 0);
  CHECK(dead_letters_of(runtime().info(source).name).empty());
}

// What `status` shows as MBOX: the fullest sender lane, which reaches the
// capacity exactly when its sender is held back. The lanes a sender's lane
// grew from (4, 8, then 16 KiB) are not read while the worker holds its
// first job, so the mailbox holds more than the capacity in all (the
// status column once said 170%).
TEST_CASE("a held worker's fullest lane shows its sender held back while its lanes hold more than one capacity" *
          doctest::timeout(90)) {
  actor_scope scope;
  temp_dir dir;
  const std::string hold = dir.file("hold");
  std::ofstream(hold).flush();
  constexpr std::size_t capacity = 16384;
  procactor::SpawnOptions worker_options;
  worker_options.mailbox_capacity = capacity;
  worker_options.params.set("hold", hold);
  auto worker = scope.spawn<backpressure::Worker>("fill-worker", worker_options);
  procactor::SpawnOptions source_options;
  source_options.routes = {procactor::Route{{worker.name()}, procactor::RoutePolicy::round_robin}};
  auto source = scope.spawn<backpressure::Source>("fill-source", source_options);

  constexpr std::uint64_t count = 300;  // about 70 KiB of jobs
  auto emitted = source.ask<std::uint64_t>(backpressure::Emit{count}, 60s);
  REQUIRE(eventually([&] { return std::ifstream(hold + ".started").good(); }));
  // Held back: no room for one more job (about 260 bytes with its header)
  // in the newest lane, grown to the capacity.
  REQUIRE(eventually([&] { return runtime().info(worker).fullest_lane_bytes + 512 > capacity; }));
  const procactor::ActorInfo held = runtime().info(worker);
  CHECK(held.fullest_lane_bytes <= capacity);
  CHECK(held.queued_bytes > capacity);
  CHECK(held.queued_bytes <= 2 * capacity);
  CHECK(held.processed == 0);
  std::filesystem::remove(hold);

  CHECK(emitted.get() == count);
  REQUIRE(eventually([&] { return runtime().info(worker).processed >= count; }));
  const procactor::ActorInfo drained = runtime().info(worker);
  CHECK(drained.fullest_lane_bytes == 0);
  CHECK(drained.queued_bytes == 0);
}

// Options::send_timeout is the run's, not only the supervising program's:
// an actor's own send into a lane that stays full gives up after it (it
// used to wait the built-in 30 s in every actor).
TEST_CASE("an actor's send into a lane that stays full fails after the run's send_timeout" * doctest::timeout(90)) {
  actor_scope scope;
  temp_dir dir;
  const std::string hold = dir.file("hold");
  std::ofstream(hold).flush();
  procactor::SpawnOptions worker_options;
  worker_options.mailbox_capacity = 4096;
  worker_options.params.set("hold", hold);
  auto worker = scope.spawn<backpressure::Worker>("worker", worker_options);
  auto source = scope.spawn<backpressure::Source>("source");
  try {
    // 20 s: under the built-in 30 s, so that a send still on that would
    // leave this ask to time out itself.
    (void)source.ask<std::uint64_t>(backpressure::SendDirect{worker.name(), 300}, 20s).get();
    FAIL("300 sends into a held worker's 4 KiB lane all went through");
  } catch (const procactor::error& e) {
    CHECK(e.code() == procactor::errc::timeout);
    // The source's own send timed out, not this ask.
    CHECK_MESSAGE(e.message().rfind("in " + source.name() + "'s handler: ", 0) == 0, e.message());
  }
  std::filesystem::remove(hold);
}
