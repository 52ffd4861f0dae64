// Many senders, one receiver: nothing lost, nothing doubled, each sender's
// order kept. The senders are actor processes themselves.
//
//   [blaster.0] ──Seq{0, 1..N}──┐
//   [blaster.1] ──Seq{1, 1..N}──┼──▶ [sink]   counts per sender, checks seq == last + 1
//        ...                    │
//   [blaster.7] ──Seq{7, 1..N}──┘
//
// A blaster ends with an ask (Flush) on its own lane: lanes are FIFO, so when
// the sink answers it, the sink has handled every Seq of that blaster. Once
// every blaster has answered the parent, the sink's summary is final.
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "support.hpp"

namespace ordering {

struct Seq {
  std::uint32_t sender = 0;
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sender, seq);
  }
};
struct Flush {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Report {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Summary {
  std::map<std::uint32_t, std::uint64_t> received;  // per sender
  std::map<std::uint32_t, std::uint64_t> last;      // per sender
  std::uint64_t out_of_order = 0;                   // seq > last + 1: a gap or a reordering
  std::uint64_t duplicates = 0;                     // seq <= last
  template <class Archive>
  void serialize(Archive& archive) {
    archive(received, last, out_of_order, duplicates);
  }
};
// Seq{sender, 1..count} to `sink`, back to back or, with max_gap_us, with
// a pause of 0 to max_gap_us between two sends, drawn from `seed`.
struct Blast {
  std::string sink;
  std::uint32_t sender = 0;
  std::uint64_t count = 0;
  std::uint32_t max_gap_us = 0;
  std::uint64_t seed = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sink, sender, count, max_gap_us, seed);
  }
};
// Answered with `value` after `delay_us`.
struct DelayedEcho {
  std::uint64_t value = 0;
  std::uint32_t delay_us = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value, delay_us);
  }
};

}  // namespace ordering
PROCACTOR_MESSAGE(ordering::DelayedEcho);
PROCACTOR_MESSAGE(ordering::Seq);
PROCACTOR_MESSAGE(ordering::Flush);
PROCACTOR_MESSAGE(ordering::Report);
PROCACTOR_MESSAGE(ordering::Blast);

namespace ordering {

class Sink : public procactor::Actor<Sink, Seq, Flush, Report> {
 public:
  void on(const Seq& m) {
    ++summary_.received[m.sender];
    std::uint64_t& last = summary_.last[m.sender];
    if (m.seq <= last) {
      ++summary_.duplicates;
    } else {
      if (m.seq != last + 1) ++summary_.out_of_order;
      last = m.seq;
    }
  }
  bool on(const Flush&) { return true; }
  Summary on(const Report&) { return summary_; }

 private:
  Summary summary_;
};

class Blaster : public procactor::Actor<Blaster, Blast> {
 public:
  std::uint64_t on(const Blast& b) {
    const auto sink = find(b.sink);
    if (!sink.valid()) throw std::runtime_error("no sink named " + b.sink);
    std::mt19937_64 random(b.seed);
    std::uniform_int_distribution<std::uint32_t> gap(0, b.max_gap_us);
    for (std::uint64_t seq = 1; seq <= b.count; ++seq) {
      sink.send(Seq{b.sender, seq});
      if (b.max_gap_us == 0) continue;
      const auto pause = gap(random);
      // A quarter of the sends follow the last at once, into a receiver
      // that may be spinning, parking or asleep.
      if (pause > b.max_gap_us / 4) std::this_thread::sleep_for(std::chrono::microseconds(pause));
    }
    sink.ask<bool>(Flush{}, std::chrono::seconds(120)).get();
    return b.count;
  }
};

class Echo : public procactor::Actor<Echo, DelayedEcho> {
 public:
  std::uint64_t on(const DelayedEcho& e) {
    if (e.delay_us != 0) std::this_thread::sleep_for(std::chrono::microseconds(e.delay_us));
    return e.value;
  }
};

}  // namespace ordering
PROCACTOR_ACTOR(ordering::Sink);
PROCACTOR_ACTOR(ordering::Blaster);
PROCACTOR_ACTOR(ordering::Echo);

using namespace itest;

namespace {

// The sink saw sequences 0..senders-1, each 1..per_sender exactly once and
// in order, and never restarted.
void check_every_sequence(const procactor::ActorRef& sink, std::uint32_t senders, std::uint64_t per_sender) {
  const auto summary = sink.ask<ordering::Summary>(ordering::Report{}, 30s).get();
  CHECK(summary.duplicates == 0);
  CHECK(summary.out_of_order == 0);
  REQUIRE(summary.received.size() == senders);
  for (std::uint32_t i = 0; i < senders; ++i) {
    CAPTURE(i);
    CHECK(summary.received.at(i) == per_sender);
    CHECK(summary.last.at(i) == per_sender);
  }
  CHECK(runtime().info(sink).restarts == 0);
}

}  // namespace

TEST_SUITE("ordering") {

TEST_CASE("8 sender processes x 100000 messages reach one actor with none lost, none doubled, each in order" *
          doctest::timeout(240)) {
  constexpr std::uint32_t senders = 8;
  constexpr std::uint64_t per_sender = 100'000;
  actor_scope scope;
  auto sink = scope.spawn<ordering::Sink>("sink");
  std::vector<procactor::ActorRef> blasters;
  for (std::uint32_t i = 0; i < senders; ++i) blasters.push_back(scope.spawn<ordering::Blaster>("blaster"));

  std::vector<procactor::Future<std::uint64_t>> done;
  for (std::uint32_t i = 0; i < senders; ++i) {
    done.push_back(blasters[i].ask<std::uint64_t>(ordering::Blast{sink.name(), i, per_sender}, 200s));
  }
  for (auto& d : done) REQUIRE(d.get() == per_sender);

  check_every_sequence(sink, senders, per_sender);
  for (const auto& b : blasters) CHECK(runtime().info(b).restarts == 0);
}

// The threads of one process share its lane into an actor. The lane's lock
// is biased to the first thread that sends (plain stores, no locked
// instruction); the second thread revokes the bias while the first is in
// the middle of its stream, and from then on every thread takes the lock.
// Each thread's messages keep their order and none is lost or doubled,
// also with a small lane that is full most of the time (sends wait for
// room while other threads queue on the lock).
TEST_CASE("threads of one process share a lane: the first one's bias is revoked mid-stream, none lost, each in order" *
          doctest::timeout(240)) {
  constexpr std::uint32_t threads = 4;
  constexpr std::uint64_t per_thread = 50'000;
  for (const std::size_t capacity : {std::size_t{0}, std::size_t{4096}}) {
    CAPTURE(capacity);
    actor_scope scope;
    procactor::SpawnOptions options;
    if (capacity != 0) options.mailbox_capacity = capacity;
    auto sink = scope.spawn<ordering::Sink>("sink", options);
    auto blast = [&](std::uint32_t id) {
      for (std::uint64_t seq = 1; seq <= per_thread; ++seq) sink.send(ordering::Seq{id, seq});
    };
    // The first thread owns the bias; the others start once it has sent a
    // fifth of its messages (an event, not a delay), so that the bias is
    // revoked while it is still sending.
    std::atomic<std::uint64_t> first_sent{0};
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
      for (std::uint64_t seq = 1; seq <= per_thread; ++seq) {
        sink.send(ordering::Seq{0, seq});
        first_sent.store(seq, std::memory_order_release);
      }
    });
    while (first_sent.load(std::memory_order_acquire) < per_thread / 5) std::this_thread::yield();
    for (std::uint32_t id = 1; id < threads; ++id) workers.emplace_back(blast, id);
    for (auto& w : workers) w.join();
    REQUIRE(sink.ask<bool>(ordering::Flush{}, 120s).get());  // behind every Seq in the lane

    check_every_sequence(sink, threads, per_thread);
  }
}

// Waits that usually outlast the spin make a "slow" waiter, whose first
// sleep of each wait skips the membarrier and is bounded instead
// (park_fence, runtime/futex.hpp): a send that races with that park may
// not wake it, and the record is then taken when the short sleep ends.
// Here sends come at random moments around the receiver's park, and
// answers at random moments around the asker's: every message still
// arrives, once and in order, and every answer is the right one.
TEST_CASE("sends and answers racing with a slow waiter's park: none lost, none doubled, each in order" *
          doctest::timeout(240)) {
  constexpr std::uint32_t senders = 2;
  constexpr std::uint64_t per_sender = 5'000;
  constexpr std::uint32_t max_gap_us = 1'200;  // the receiver's spin is 50 µs at most
  actor_scope scope;
  auto sink = scope.spawn<ordering::Sink>("sink");
  auto echo = scope.spawn<ordering::Echo>("echo");
  std::vector<procactor::ActorRef> pacers;
  for (std::uint32_t i = 0; i < senders; ++i) pacers.push_back(scope.spawn<ordering::Blaster>("pacer"));

  std::vector<procactor::Future<std::uint64_t>> done;
  for (std::uint32_t i = 0; i < senders; ++i) {
    const ordering::Blast blast{sink.name(), i, per_sender, max_gap_us, 1234 + i};
    done.push_back(pacers[i].ask<std::uint64_t>(blast, 200s));
  }
  // Meanwhile this process asks, with the answer coming after 0 to 1 ms.
  std::mt19937_64 random(99);
  std::uniform_int_distribution<std::uint32_t> delay(0, 1'000);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 1; i <= 2'000; ++i) {
    if (echo.ask<std::uint64_t>(ordering::DelayedEcho{i, delay(random)}, 30s).get() != i) ++wrong;
  }
  CHECK(wrong == 0);
  for (auto& d : done) REQUIRE(d.get() == per_sender);

  check_every_sequence(sink, senders, per_sender);
  for (const auto& p : pacers) CHECK(runtime().info(p).restarts == 0);
  CHECK(runtime().info(echo).restarts == 0);
}

}  // TEST_SUITE
