// test-kill-storm: producers stream sequence numbers to a consumer while the
// test SIGKILLs producers and the consumer at random instants, hundreds of
// times; afterwards every committed message must have been delivered, in
// order, with duplicates only where the consumer died holding one.
//
//   [producer.0] ──Item{0, seq}──┐
//   [producer.1] ──Item{1, seq}──┼──▶ [consumer] ──▶ ledger file (mmap, MAP_SHARED)
//   [producer.2]       ...       │        ▲
//   [producer.3] ──Where{p}──────┘        └── the test: SIGKILL anyone, ~every 30 ms
//
// The design, and why it is checkable
// -----------------------------------
// * The record that must survive kills lives in a small file that every
//   process maps MAP_SHARED: a store to it is in the page cache the moment
//   it is made, so SIGKILL loses nothing already stored. Each fact is one
//   8-byte atomic store, so there is no half-written record to repair.
// * The consumer keeps, per producer, `last_seen`: the highest seq of an
//   unbroken run 1..last_seen. For an Item it checks seq == last_seen + 1
//   (then stores it), seq <= last_seen (a duplicate: counted), or a jump (a
//   gap: counted, which fails the test).
// * A producer resumes after its own death by asking the consumer
//   Where{p}. The ask travels in the producer slot's own lane, behind every
//   Item the dead incarnation published (a lane is FIFO and outlives the
//   process), so the answer covers all of them: the producer resumes at
//   exactly last_seen + 1 and a producer kill causes no duplicate and no
//   gap. (Each ask carries a nonce echoed in the answer; an answer with
//   another nonce is counted as stale and ignored: see the correlation-id
//   bug in the report.)
// * So the only duplicates are redeliveries after a consumer kill: the
//   consumer stored last_seen for an Item and died before the runtime
//   committed it (at-least-once). At most one per consumer kill.
// * At the end each producer asks Where{p} once more; the answer must equal
//   its own last committed seq ("every committed message was delivered").
// * Stall: after each successful send a producer measures the time since its
//   previous one, or since the consumer's latest (re)start if that came later
//   (the consumer stores its start time in the ledger), and keeps the maximum:
//   how long anyone waited past a restart.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <random>

#include "probe.hpp"
#include "support.hpp"

namespace storm {

constexpr std::uint32_t producers = 4;

struct producer_record {
  // Written by the consumer.
  std::atomic<std::uint64_t> last_seen;
  std::atomic<std::uint64_t> duplicates;
  std::atomic<std::uint64_t> gaps;
  // Written by the producer.
  std::atomic<std::uint64_t> committed;      // highest seq whose send() returned
  std::atomic<std::uint64_t> incarnations;
  std::atomic<std::uint64_t> max_stall_ns;
  std::atomic<std::uint64_t> stale_answers;  // Where answers that carried another ask's nonce
  std::atomic<std::uint64_t> failed_asks;    // Where asks that timed out or met a dying consumer
  std::atomic<std::uint64_t> failed_sends;   // sends that timed out (retried with the same seq)
  std::atomic<std::uint64_t> final_seq;      // its last seq, once the consumer confirmed it
  std::atomic<std::uint64_t> final_state;    // 0: not yet, 1: confirmed, 2: the consumer disagreed
};
struct ledger {
  std::atomic<std::uint64_t> stop;
  std::atomic<std::uint64_t> consumer_started_ns;
  std::atomic<std::uint64_t> consumer_incarnations;
  producer_record producer[producers];
};
static_assert(std::is_standard_layout_v<ledger>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for all processes of the machine
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

ledger* map_ledger(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open the ledger " + path);
  void* at = ::mmap(nullptr, sizeof(ledger), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (at == MAP_FAILED) throw std::runtime_error("cannot map the ledger " + path);
  return static_cast<ledger*>(at);
}

void raise_to(std::atomic<std::uint64_t>& maximum, std::uint64_t value) {
  std::uint64_t seen = maximum.load();
  while (value > seen && !maximum.compare_exchange_weak(seen, value)) {
  }
}

struct Item {
  std::uint32_t producer = 0;
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(producer, seq);
  }
};
struct Where {
  std::uint32_t producer = 0;
  std::uint64_t nonce = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(producer, nonce);
  }
};
struct Position {
  std::uint64_t nonce = 0;
  std::uint64_t last_seen = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(nonce, last_seen);
  }
};

}  // namespace storm
PROCACTOR_MESSAGE(storm::Item);
PROCACTOR_MESSAGE(storm::Where);

namespace storm {

class Consumer : public procactor::Actor<Consumer, Item, Where> {
 public:
  void on_start() override {
    ledger_ = map_ledger(params().get<std::string>("ledger"));
    ledger_->consumer_incarnations.fetch_add(1);
    ledger_->consumer_started_ns.store(now_ns());
  }
  void on(const Item& item) {
    producer_record& r = record(item.producer);
    const std::uint64_t last = r.last_seen.load();
    if (item.seq == last + 1) {
      r.last_seen.store(item.seq);
    } else if (item.seq <= last) {
      r.duplicates.fetch_add(1);
    } else {
      r.gaps.fetch_add(1);
      r.last_seen.store(item.seq);
    }
  }
  Position on(const Where& where) { return {where.nonce, record(where.producer).last_seen.load()}; }

 private:
  producer_record& record(std::uint32_t producer) {
    if (producer >= producers) throw std::out_of_range("producer " + std::to_string(producer));
    return ledger_->producer[producer];
  }
  ledger* ledger_ = nullptr;
};

// Drives its own loop (run()) instead of handling messages: a restarted
// producer must pick up its stream without being told to.
class Producer : public procactor::ActorBase {
 public:
  bool dispatch(const procactor::Message&) override { return false; }

  void run() override {
    const std::uint64_t started = now_ns();
    ledger* l = map_ledger(params().get<std::string>("ledger"));
    id_ = static_cast<std::uint32_t>(params().get<std::int64_t>("id"));
    consumer_ = find(params().get<std::string>("consumer"));
    producer_record& r = l->producer[id_];
    r.incarnations.fetch_add(1);

    std::uint64_t next = where(r) + 1;
    std::uint64_t previous = started;
    while (l->stop.load() == 0) {
      try {
        consumer_.send(Item{id_, next}, std::chrono::seconds(1));
      } catch (const procactor::error&) {
        r.failed_sends.fetch_add(1);
        continue;
      }
      const std::uint64_t now = now_ns();
      const std::uint64_t since = std::max(previous, l->consumer_started_ns.load());
      if (now > since) raise_to(r.max_stall_ns, now - since);
      r.committed.store(next);
      ++next;
      previous = now;
    }
    const std::uint64_t confirmed = where(r);
    r.final_seq.store(next - 1);
    r.final_state.store(confirmed == next - 1 ? 1 : 2);
  }

 private:
  // The consumer's last_seen for this producer, once every Item this slot
  // published before the ask has been handled.
  std::uint64_t where(producer_record& r) {
    for (;;) {
      const std::uint64_t nonce = (static_cast<std::uint64_t>(::getpid()) << 32) | ++asks_;
      try {
        const auto position = consumer_.ask<Position>(Where{id_, nonce}, std::chrono::seconds(2)).get();
        if (position.nonce == nonce) return position.last_seen;
        r.stale_answers.fetch_add(1);
      } catch (const procactor::error&) {
        r.failed_asks.fetch_add(1);
      }
    }
  }

  procactor::ActorRef consumer_;
  std::uint32_t id_ = 0;
  std::uint64_t asks_ = 0;
};

}  // namespace storm
PROCACTOR_MESSAGE(storm::Position);
PROCACTOR_ACTOR(storm::Consumer);
PROCACTOR_ACTOR(storm::Producer);

using namespace itest;

namespace {

// SIGKILLs the current incarnation of `target` through a pidfd, so that the
// signal cannot reach another process that reused a pid just reaped. An
// incarnation dies once: until the supervisor has reaped it, pid() still
// names the dead process (a zombie takes signals too), so a second kill of
// the same pid is not counted.
bool kill_now(const procactor::ActorRef& target, int& last_killed) {
  const int pid = target.pid().value_or(-1);
  if (pid <= 0 || pid == last_killed) return false;
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  bool killed = false;
  if (target.pid() == pid) killed = ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0;
  ::close(fd);
  if (killed) last_killed = pid;
  return killed;
}

procactor::SpawnOptions storm_options() {
  procactor::SpawnOptions options;
  options.backoff.initial = std::chrono::milliseconds(0);
  options.backoff.max = std::chrono::milliseconds(0);  // every restart immediate, however many
  // A message in flight at three kills in a row would be dead-lettered as
  // poisoned; here those kills come from outside, not from the message.
  options.poison_limit = 1'000'000;
  return options;
}

}  // namespace

TEST_CASE("kill storm: 500+ SIGKILLs of producers and consumer lose no committed message" *
          doctest::timeout(110)) {
  constexpr int target_kills = 600;
  constexpr auto storm_limit = std::chrono::seconds(45);

  temp_dir dir;
  const std::string ledger_path = dir.file("ledger");
  {
    const int fd = ::open(ledger_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, sizeof(storm::ledger)) == 0);  // zero bytes: every counter 0
    ::close(fd);
  }
  storm::ledger* ledger = storm::map_ledger(ledger_path);

  // How every incarnation ended, by the supervisor's description: anything
  // but SIGKILL (ours) is a failure the figures should show.
  std::mutex exits_mutex;
  std::map<std::string, int> exits;
  runtime().on_event([&](const procactor::ActorEvent& event) {
    if (event.kind != procactor::ActorEvent::Kind::exited) return;
    std::lock_guard guard(exits_mutex);
    ++exits[event.detail];
  });
  struct unhook {
    ~unhook() { runtime().on_event({}); }
  } unhook_events;

  actor_scope scope;
  auto consumer_options = storm_options();
  consumer_options.params.set("ledger", ledger_path);
  auto consumer = scope.spawn<storm::Consumer>("consumer", consumer_options);
  std::vector<procactor::ActorRef> producers;
  for (std::uint32_t i = 0; i < storm::producers; ++i) {
    auto options = storm_options();
    options.params.set("ledger", ledger_path).set("id", std::int64_t{i}).set("consumer", consumer.name());
    producers.push_back(scope.spawn<storm::Producer>("producer", options));
  }
  REQUIRE(eventually([&] {
    for (const auto& r : ledger->producer) {
      if (r.committed.load() == 0) return false;
    }
    return true;
  }));

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(5, 60);
  std::uniform_int_distribution<int> pick(0, 2 * static_cast<int>(storm::producers) - 1);
  int consumer_kills = 0;
  int producer_kills = 0;
  int consumer_killed_pid = 0;
  std::vector<int> producer_killed_pid(storm::producers, 0);
  const auto storm_start = std::chrono::steady_clock::now();
  while (consumer_kills + producer_kills < target_kills && std::chrono::steady_clock::now() - storm_start < storm_limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    // Three draws in eight hit the consumer, the rest a random producer.
    const int draw = pick(random);
    if (draw < static_cast<int>(storm::producers) / 2 + 1) {
      consumer_kills += kill_now(consumer, consumer_killed_pid) ? 1 : 0;
    } else {
      const auto which = static_cast<std::size_t>(draw) % storm::producers;
      producer_kills += kill_now(producers[which], producer_killed_pid[which]) ? 1 : 0;
    }
  }
  const double storm_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - storm_start).count();

  ledger->stop.store(1);
  for (const auto& p : producers) REQUIRE(p.join(60s));
  consumer.close();
  REQUIRE(consumer.join(60s));

  std::uint64_t delivered = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t gaps = 0;
  std::uint64_t max_stall_ns = 0;
  std::uint64_t stale = 0;
  std::uint64_t failed_asks = 0;
  std::uint64_t failed_sends = 0;
  std::uint32_t producer_restarts = 0;
  for (std::uint32_t i = 0; i < storm::producers; ++i) {
    CAPTURE(i);
    const auto& r = ledger->producer[i];
    const auto info = runtime().info(producers[i]);
    CHECK(info.state == procactor::ActorState::exited);
    CHECK(r.final_state.load() == 1);               // the consumer confirmed the producer's last seq
    CHECK(r.last_seen.load() == r.final_seq.load());  // ... and it is the last it saw
    CHECK(r.committed.load() <= r.last_seen.load());
    CHECK(r.gaps.load() == 0);
    delivered += r.last_seen.load();
    duplicates += r.duplicates.load();
    gaps += r.gaps.load();
    max_stall_ns = std::max(max_stall_ns, r.max_stall_ns.load());
    stale += r.stale_answers.load();
    failed_asks += r.failed_asks.load();
    failed_sends += r.failed_sends.load();
    producer_restarts += info.restarts;
  }
  const auto consumer_info = runtime().info(consumer);
  const double max_stall_ms = static_cast<double>(max_stall_ns) / 1e6;

  std::printf(
      "kill storm: %d kills in %.1f s (%d consumer, %d producer); restarts seen by the supervisor: %u consumer, "
      "%u producer\n"
      "kill storm: %llu messages delivered in order, %llu duplicates (bound: %d consumer kills), %llu gaps\n"
      "kill storm: longest wait past a restart %.1f ms; %llu stale ask answers, %llu failed asks, %llu timed-out "
      "sends\n",
      consumer_kills + producer_kills, storm_seconds, consumer_kills, producer_kills, consumer_info.restarts,
      producer_restarts, static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(duplicates),
      consumer_kills, static_cast<unsigned long long>(gaps), max_stall_ms, static_cast<unsigned long long>(stale),
      static_cast<unsigned long long>(failed_asks), static_cast<unsigned long long>(failed_sends));
  {
    std::lock_guard guard(exits_mutex);
    for (const auto& [how, count] : exits) std::printf("kill storm: %d exits with %s\n", count, how.c_str());
  }
  std::fflush(stdout);

  CHECK(consumer_kills + producer_kills >= 500);
  CHECK(storm_seconds < 60.0);
  CHECK(consumer_kills > 0);
  CHECK(producer_kills > 0);
  CHECK(gaps == 0);
  CHECK(duplicates <= static_cast<std::uint64_t>(consumer_kills));
  CHECK(consumer_info.restarts == static_cast<std::uint32_t>(consumer_kills));
  CHECK(producer_restarts == static_cast<std::uint32_t>(producer_kills));
  // A kill can land before a new incarnation reached on_start.
  CHECK(ledger->consumer_incarnations.load() <= static_cast<std::uint64_t>(consumer_kills) + 1);
  CHECK(consumer_info.dead_letters == 0);
  CHECK(max_stall_ms < 1000.0);
  ::munmap(ledger, sizeof(storm::ledger));
}

int main(int argc, char** argv) {
  procactor::Options options;
  options.log_events = false;  // hundreds of exits and restarts: the figures above say enough
  options.supervision.max_restarts = -1;  // however many kills land on the consumer
  return itest::run(argc, argv, options, std::chrono::seconds(110));
}
