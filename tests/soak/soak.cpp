// procactor-soak: N actors, all to all, under random SIGKILLs, through the
// public API only; then every message is accounted for.
//
//   procactor-soak --actors 64 --messages 10000000 --duration 600
//
// Each actor ("node") is a receiver (its handler loop) and a sender (a
// thread of its own, so that sending never blocks receiving and the
// all-to-all graph cannot deadlock on full lanes). Node s sends Item{s, 1},
// Item{s, 2}, ... to every other node t, quota(s, t) messages, paced so
// that the whole stream spreads over --duration. Meanwhile the supervisor
// (this program) SIGKILLs a random node every --kill-interval-ms on
// average; the runtime restarts it.
//
// What survives a SIGKILL lives in a ledger file every process maps
// MAP_SHARED (a store is in the page cache at once; each fact is one 8-byte
// atomic store). Per pair s -> t the receiver keeps last_seen, the highest
// seq of the stream it handled, and notes anything out of order:
//   seq == last_seen + 1  in order;
//   seq == last_seen      the record in flight when t was killed, handled
//                         and redelivered (at-least-once): a duplicate;
//   seq <  last_seen      out of order: a failure;
//   seq >  last_seen + 1  a gap: the missing seqs must turn up in the dead
//                         letters (a message that crashed its receiver
//                         poison_limit times is dead-lettered, not lost).
// A restarted sender resumes by asking each receiver Where{s}: the ask
// travels in the same lane behind everything the dead incarnation
// published, so the answer is exact and a sender kill causes neither a gap
// nor a duplicate (the kill storm test relies on the same property).
//
// At the end: every seq 1..quota(s, t) delivered or dead-lettered with a
// reason; duplicates into t no more than t's kills; no exit but our
// SIGKILLs; the longest wait past a restart (kill -> the next message the
// new incarnation handled) under 1 s; the supervisor's RSS at the end of
// the kill phase within 20% of its RSS at the start.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <mutex>
#include <procactor/procactor.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace soak {

using namespace std::chrono_literals;

// ---- the ledger ----

constexpr std::size_t max_gap_ranges = 8;

struct pair_record {  // sender s -> receiver t
  // Written by the receiver.
  std::atomic<std::uint64_t> last_seen;
  std::atomic<std::uint64_t> duplicates;
  std::atomic<std::uint64_t> out_of_order;
  std::atomic<std::uint64_t> gap_ranges;  // gaps seen; the first max_gap_ranges are kept below
  std::atomic<std::uint64_t> gap_first[max_gap_ranges];
  std::atomic<std::uint64_t> gap_last[max_gap_ranges];
  // Written by the sender.
  std::atomic<std::uint64_t> confirmed;  // the receiver's last_seen once everything was sent
};

struct actor_record {
  // Written by the supervisor just before it kills the actor.
  std::atomic<std::uint64_t> kill_pid;  // 0: no kill waiting to be measured
  std::atomic<std::uint64_t> kill_ns;
  // Written by the actor.
  std::atomic<std::uint64_t> incarnations;
  std::atomic<std::uint64_t> handled;
  std::atomic<std::uint64_t> restart_waits;       // kills measured
  std::atomic<std::uint64_t> max_restart_wait_ns;
  std::atomic<std::uint64_t> total_restart_wait_ns;
  // The part of a wait before the new incarnation reached on_start
  // (reaping, backoff, spawn, exec, start-up); the rest is its mailbox.
  std::atomic<std::uint64_t> max_restart_start_ns;
  std::atomic<std::uint64_t> total_restart_start_ns;
  std::atomic<std::uint64_t> sent;
  std::atomic<std::uint64_t> sender_done;  // every stream sent and confirmed
  std::atomic<std::uint64_t> failed_sends;  // timed out or refused; retried
  std::atomic<std::uint64_t> failed_asks;
  std::atomic<std::uint64_t> stale_answers;
};

// Waits past a restart, counted by the first bound they are under (ms).
constexpr std::uint64_t wait_bounds_ms[] = {10, 50, 100, 250, 500, 1000, 2000, 5000};
constexpr std::size_t wait_buckets = std::size(wait_bounds_ms) + 1;

struct ledger_header {
  std::atomic<std::uint64_t> start_ns;  // senders start once it is set
  std::atomic<std::uint64_t> stop;      // senders give up (a failed run)
  std::atomic<std::uint64_t> waits[wait_buckets];  // written by the actors
  std::uint64_t actors;
  std::uint64_t messages;
  std::uint64_t duration_ns;
};

std::size_t ledger_size(std::uint64_t actors) {
  return sizeof(ledger_header) + actors * sizeof(actor_record) + actors * actors * sizeof(pair_record);
}

class ledger {
 public:
  ledger(const std::string& path, bool create, std::uint64_t actors) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0) throw std::runtime_error("cannot open the ledger " + path);
    if (create && ::ftruncate(fd, static_cast<off_t>(ledger_size(actors))) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot size the ledger " + path);
    }
    size_ = ledger_size(actors);
    void* at = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (at == MAP_FAILED) throw std::runtime_error("cannot map the ledger " + path);
    base_ = static_cast<std::byte*>(at);
    actors_ = actors;
  }
  ~ledger() { ::munmap(base_, size_); }
  ledger(const ledger&) = delete;
  ledger& operator=(const ledger&) = delete;

  [[nodiscard]] ledger_header& header() const { return *reinterpret_cast<ledger_header*>(base_); }
  [[nodiscard]] actor_record& actor(std::uint64_t i) const {
    return reinterpret_cast<actor_record*>(base_ + sizeof(ledger_header))[i];
  }
  [[nodiscard]] pair_record& pair(std::uint64_t from, std::uint64_t to) const {
    return reinterpret_cast<pair_record*>(base_ + sizeof(ledger_header) + actors_ * sizeof(actor_record))
        [from * actors_ + to];
  }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t actors_ = 0;
};

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process of the machine
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

void raise_to(std::atomic<std::uint64_t>& maximum, std::uint64_t value) {
  std::uint64_t seen = maximum.load();
  while (value > seen && !maximum.compare_exchange_weak(seen, value)) {
  }
}

// Messages from `from` to `to`: M spread evenly over the N*(N-1) pairs.
std::uint64_t quota(std::uint64_t actors, std::uint64_t messages, std::uint64_t from, std::uint64_t to) {
  const std::uint64_t pairs = actors * (actors - 1);
  const std::uint64_t index = from * (actors - 1) + (to < from ? to : to - 1);
  return messages / pairs + (index < messages % pairs ? 1 : 0);
}

std::string node_name(std::uint64_t i) { return "node-" + std::to_string(i); }

// ---- messages ----

struct Item {
  std::uint32_t from = 0;
  std::uint64_t seq = 0;
  template <class A>
  void serialize(A& a) {
    a(from, seq);
  }
};
struct Where {
  std::uint32_t from = 0;
  std::uint64_t nonce = 0;
  template <class A>
  void serialize(A& a) {
    a(from, nonce);
  }
};
struct Position {
  std::uint64_t nonce = 0;
  std::uint64_t last_seen = 0;
  template <class A>
  void serialize(A& a) {
    a(nonce, last_seen);
  }
};

}  // namespace soak
PROCACTOR_MESSAGE(soak::Item);
PROCACTOR_MESSAGE(soak::Where);
PROCACTOR_MESSAGE(soak::Position);

namespace soak {

class Node : public procactor::Actor<Node, Item, Where> {
 public:
  void on_start() override {
    id_ = static_cast<std::uint32_t>(params().get<std::int64_t>("id"));
    ledger_ = std::make_unique<ledger>(params().get<std::string>("ledger"), false,
                                       static_cast<std::uint64_t>(params().get<std::int64_t>("actors")));
    me().incarnations.fetch_add(1);
    started_ns_ = now_ns();
    sender_ = std::thread([this] { send_all(); });
  }
  void on_stop() override {
    stop_.store(true);
    if (sender_.joinable()) sender_.join();
  }

  void on(const Item& item) {
    const std::uint64_t actors = ledger_->header().actors;
    if (item.from >= actors || item.from == id_) throw std::out_of_range("Item from " + std::to_string(item.from));
    pair_record& p = ledger_->pair(item.from, id_);
    const std::uint64_t last = p.last_seen.load();
    if (item.seq == last + 1) {
      p.last_seen.store(item.seq);
    } else if (item.seq == last) {
      p.duplicates.fetch_add(1);
    } else if (item.seq < last) {
      p.out_of_order.fetch_add(1);
    } else {
      const std::uint64_t n = p.gap_ranges.fetch_add(1);
      if (n < max_gap_ranges) {
        p.gap_first[n].store(last + 1);
        p.gap_last[n].store(item.seq - 1);
      }
      p.last_seen.store(item.seq);
    }
    me().handled.fetch_add(1);
    measure_restart();
  }

  Position on(const Where& where) {
    if (where.from >= ledger_->header().actors) throw std::out_of_range("Where from " + std::to_string(where.from));
    return {where.nonce, ledger_->pair(where.from, id_).last_seen.load()};
  }

 private:
  actor_record& me() const { return ledger_->actor(id_); }

  // The first message this incarnation handles after the supervisor killed
  // the previous one ends the wait the supervisor started timing.
  void measure_restart() {
    actor_record& r = me();
    std::uint64_t killed = r.kill_pid.load();
    if (killed == 0 || killed == static_cast<std::uint64_t>(::getpid())) return;
    const std::uint64_t since = r.kill_ns.load();
    if (r.kill_pid.compare_exchange_strong(killed, 0)) {
      const std::uint64_t now = now_ns();
      const std::uint64_t wait = now > since ? now - since : 0;
      const std::uint64_t start = started_ns_ > since ? started_ns_ - since : 0;
      raise_to(r.max_restart_wait_ns, wait);
      r.total_restart_wait_ns.fetch_add(wait);
      raise_to(r.max_restart_start_ns, start);
      r.total_restart_start_ns.fetch_add(start);
      r.restart_waits.fetch_add(1);
      std::size_t bucket = 0;
      while (bucket < std::size(wait_bounds_ms) && wait >= wait_bounds_ms[bucket] * 1'000'000) ++bucket;
      ledger_->header().waits[bucket].fetch_add(1);
    }
  }

  // The receiver's last_seen for our stream, once everything this slot
  // published to it before the ask has been handled.
  std::uint64_t where(const procactor::ActorRef& to) {
    actor_record& r = me();
    while (!stop_.load()) {
      const std::uint64_t nonce = (static_cast<std::uint64_t>(::getpid()) << 32) | ++asks_;
      try {
        const auto answer = to.ask<Position>(Where{id_, nonce}, 2s).get();
        if (answer.nonce == nonce) return answer.last_seen;
        r.stale_answers.fetch_add(1);
      } catch (const procactor::error&) {
        r.failed_asks.fetch_add(1);
      }
    }
    return 0;
  }

  void send_all() {
    ledger_header& h = ledger_->header();
    while (h.start_ns.load() == 0) {
      if (stop_.load() || h.stop.load() != 0) return;
      std::this_thread::sleep_for(1ms);
    }
    const std::uint64_t actors = h.actors;
    struct stream {
      std::uint32_t to;
      procactor::ActorRef ref;
      std::uint64_t next;
      std::uint64_t quota;
    };
    std::vector<stream> streams;
    std::uint64_t total = 0;
    std::uint64_t done = 0;
    for (std::uint32_t t = 0; t < actors; ++t) {
      if (t == id_) continue;
      procactor::ActorRef ref;
      while (!(ref = find(node_name(t))).valid()) {
        if (stop_.load()) return;
        std::this_thread::sleep_for(1ms);
      }
      const std::uint64_t q = quota(actors, h.messages, id_, t);
      const std::uint64_t resume = where(ref) + 1;
      streams.push_back({t, ref, resume, q});
      total += q;
      done += std::min(resume - 1, q);
    }
    actor_record& r = me();
    // Paced: by time x of the duration, x of the quota may be out.
    const auto allowed = [&] {
      const std::uint64_t elapsed = now_ns() - h.start_ns.load();
      if (elapsed >= h.duration_ns) return total;
      return static_cast<std::uint64_t>(static_cast<double>(total) * static_cast<double>(elapsed) /
                                        static_cast<double>(h.duration_ns));
    };
    bool more = true;
    while (more && !stop_.load() && h.stop.load() == 0) {
      more = false;
      for (stream& s : streams) {
        if (s.next > s.quota) continue;
        more = true;
        while (done >= allowed() && !stop_.load()) std::this_thread::sleep_for(2ms);
        try {
          s.ref.send(Item{id_, s.next}, 1s);
        } catch (const procactor::error&) {
          r.failed_sends.fetch_add(1);  // the same seq again on the next round
          continue;
        }
        ++s.next;
        ++done;
        r.sent.fetch_add(1);
      }
    }
    if (stop_.load() || h.stop.load() != 0) return;
    for (const stream& s : streams) ledger_->pair(id_, s.to).confirmed.store(where(s.ref));
    if (!stop_.load()) r.sender_done.store(1);
  }

  std::uint32_t id_ = 0;
  std::uint64_t started_ns_ = 0;
  std::unique_ptr<ledger> ledger_;
  std::thread sender_;
  std::atomic<bool> stop_{false};
  std::uint64_t asks_ = 0;
};

}  // namespace soak
PROCACTOR_ACTOR(soak::Node);

namespace soak {
namespace {

struct settings {
  std::uint64_t actors = 64;
  std::uint64_t messages = 10'000'000;
  std::uint64_t duration_s = 600;
  std::uint64_t kill_interval_ms = 200;
  std::uint64_t lane_capacity = 0;  // 0: the runtime's default
  std::uint64_t arena_size = 0;     // 0: the runtime's default
  std::uint64_t seed = 0;
  std::uint64_t max_restart_wait_ms = 1000;  // 0: report the longest wait, do not require a bound
};

[[noreturn]] void usage(const char* program, const std::string& problem) {
  std::fprintf(stderr,
               "%s\nusage: %s [--actors N] [--messages M] [--duration SECONDS] [--kill-interval-ms MS]\n"
               "          [--lane-capacity BYTES] [--arena-size BYTES] [--seed S] [--max-restart-wait-ms MS]\n"
               "  --lane-capacity 0 and --arena-size 0 leave the runtime's defaults;\n"
               "  --max-restart-wait-ms 0 reports the longest wait past a restart without a bound\n",
               problem.c_str(), program);
  std::exit(2);
}

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (i + 1 >= argc) usage(argv[0], option + " needs a value");
    char* end = nullptr;
    const std::uint64_t value = std::strtoull(argv[++i], &end, 10);
    if (end == argv[i] || *end != '\0') usage(argv[0], option + ": not a number: " + argv[i]);
    if (option == "--actors") {
      s.actors = value;
    } else if (option == "--messages") {
      s.messages = value;
    } else if (option == "--duration") {
      s.duration_s = value;
    } else if (option == "--kill-interval-ms") {
      s.kill_interval_ms = value;
    } else if (option == "--lane-capacity") {
      s.lane_capacity = value;
    } else if (option == "--arena-size") {
      s.arena_size = value;
    } else if (option == "--seed") {
      s.seed = value;
    } else if (option == "--max-restart-wait-ms") {
      s.max_restart_wait_ms = value;
    } else {
      usage(argv[0], "unknown option " + option);
    }
  }
  if (s.actors < 2) usage(argv[0], "--actors must be at least 2");
  if (s.duration_s == 0) usage(argv[0], "--duration must be at least 1");
  if (s.kill_interval_ms == 0) usage(argv[0], "--kill-interval-ms must be at least 1");
  if (s.seed == 0) s.seed = std::random_device{}() | 1U;
  return s;
}

std::uint64_t rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// SIGKILLs exactly the process `pid` through a pidfd: the signal cannot
// reach another process that reused a pid the supervisor just reaped.
bool kill_exactly(int pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  const bool killed = ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0;
  ::close(fd);
  return killed;
}

class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/procactor-soak-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <class Condition>
bool wait_for(Condition&& condition, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class verdict {
 public:
  void check(bool holds, const std::string& what) {
    if (!holds) {
      std::printf("soak: FAILED: %s\n", what.c_str());
      ++failures_;
    }
  }
  [[nodiscard]] int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

int run(procactor::Runtime& rt, const settings& s) {
  const auto wall_start = std::chrono::steady_clock::now();
  std::printf("soak: %llu actors all to all, %llu messages, %llu s of kills every ~%llu ms; lanes %llu bytes, arena %llu "
              "bytes; seed %llu\n",
              static_cast<unsigned long long>(s.actors), static_cast<unsigned long long>(s.messages),
              static_cast<unsigned long long>(s.duration_s), static_cast<unsigned long long>(s.kill_interval_ms),
              static_cast<unsigned long long>(rt.options().lane_capacity),
              static_cast<unsigned long long>(rt.options().arena_size), static_cast<unsigned long long>(s.seed));
  std::fflush(stdout);
  temp_dir dir;
  const std::string ledger_path = dir.path() + "/ledger";
  ledger book(ledger_path, true, s.actors);
  book.header().actors = s.actors;
  book.header().messages = s.messages;
  book.header().duration_ns = s.duration_s * 1'000'000'000ULL;

  // Every exit, by how it happened: anything but our SIGKILLs is a failure.
  std::mutex exits_mutex;
  std::map<std::string, std::uint64_t> exits;
  rt.on_event([&](const procactor::ActorEvent& event) {
    if (event.kind != procactor::ActorEvent::Kind::exited && event.kind != procactor::ActorEvent::Kind::gave_up) return;
    std::lock_guard guard(exits_mutex);
    ++exits[(event.kind == procactor::ActorEvent::Kind::gave_up ? "gave up: " : "") + event.detail];
  });

  std::vector<procactor::ActorRef> nodes;
  for (std::uint64_t i = 0; i < s.actors; ++i) {
    procactor::SpawnOptions options;
    options.params.set("ledger", ledger_path)
        .set("id", static_cast<std::int64_t>(i))
        .set("actors", static_cast<std::int64_t>(s.actors));
    options.backoff.max = 100ms;  // repeated kills must not push restarts towards the 1 s bound
    nodes.push_back(rt.spawn<Node>(node_name(i), options));
  }
  verdict v;
  const bool all_up = wait_for([&] {
    for (std::uint64_t i = 0; i < s.actors; ++i) {
      if (book.actor(i).incarnations.load() == 0) return false;
    }
    return true;
  }, 120s);
  v.check(all_up, "not every node started within 120 s");

  // The kill phase.
  std::mt19937_64 random(s.seed);
  std::exponential_distribution<double> pause(1.0 / static_cast<double>(s.kill_interval_ms));
  std::uniform_int_distribution<std::uint64_t> pick(0, s.actors - 1);
  std::vector<std::uint64_t> kills(s.actors, 0);
  std::uint64_t skipped = 0;
  const std::uint64_t rss_start = rss_kib();
  book.header().start_ns.store(now_ns());
  const auto kill_start = std::chrono::steady_clock::now();
  const auto kill_end = kill_start + std::chrono::seconds(s.duration_s);
  const auto all_sent = [&] {
    for (std::uint64_t i = 0; i < s.actors; ++i) {
      if (book.actor(i).sender_done.load() == 0) return false;
    }
    return true;
  };
  while (all_up && std::chrono::steady_clock::now() < kill_end && !all_sent()) {
    const auto nap = std::chrono::duration<double, std::milli>(pause(random));
    std::this_thread::sleep_until(std::min<std::chrono::steady_clock::time_point>(
        kill_end, std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(nap)));
    if (std::chrono::steady_clock::now() >= kill_end) break;
    const std::uint64_t i = pick(random);
    actor_record& r = book.actor(i);
    const std::optional<int> pid = nodes[i].pid();
    // Not while down (no pid), nor before the last kill's restart was
    // measured: each kill's wait is timed on its own.
    if (!pid || *pid <= 0 || r.kill_pid.load() != 0) {
      ++skipped;
      continue;
    }
    r.kill_ns.store(now_ns());
    r.kill_pid.store(static_cast<std::uint64_t>(*pid));
    if (kill_exactly(*pid)) {
      ++kills[i];
    } else {
      r.kill_pid.store(0);
      ++skipped;
    }
  }
  const double kill_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_start).count();
  const std::uint64_t rss_end = rss_kib();
  std::uint64_t sent_in_kill_phase = 0;
  for (std::uint64_t i = 0; i < s.actors; ++i) sent_in_kill_phase += book.actor(i).sent.load();

  // Drain: every sender finishes and confirms, then everyone is closed.
  const auto drain_limit = std::chrono::seconds(std::max<std::uint64_t>(300, s.duration_s));
  const bool drained = all_up && wait_for(all_sent, drain_limit);
  v.check(drained, "the senders did not finish within " + std::to_string(drain_limit.count()) + " s of the kill phase");
  if (!drained) book.header().stop.store(1);
  // A restart that no message followed (its senders were done) has no wait to measure.
  std::uint64_t unmeasured = 0;
  wait_for([&] {
    unmeasured = 0;
    for (std::uint64_t i = 0; i < s.actors; ++i) unmeasured += book.actor(i).kill_pid.load() != 0 ? 1 : 0;
    return unmeasured == 0;
  }, 10s);
  for (const auto& n : nodes) n.close();
  bool joined = true;
  for (const auto& n : nodes) joined = n.join(60s) && joined;
  v.check(joined, "not every node exited within 60 s of close()");
  // The monitor thread reports an exit a moment after join() sees it.
  wait_for([&] {
    std::lock_guard guard(exits_mutex);
    return exits["exit code 0"] >= s.actors;
  }, 5s);
  const double total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  // Dead letters: which Items, and why.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::set<std::uint64_t>> dead_items;  // (from, to) -> seqs
  std::map<std::string, std::uint64_t> dead_reasons;
  std::map<std::string, std::uint64_t> node_index;
  for (std::uint64_t i = 0; i < s.actors; ++i) node_index[node_name(i)] = i;
  for (const auto& letter : rt.dead_letters()) {
    ++dead_reasons[letter.type_name + ": " + letter.reason];
    if (letter.type != procactor::message_traits<Item>::id || !node_index.contains(letter.actor)) continue;
    const procactor::Message m(letter.type, letter.payload, 0, 0, 0);
    const Item item = m.get<Item>();
    dead_items[{item.from, node_index[letter.actor]}].insert(item.seq);
  }

  // Accounting, pair by pair.
  std::uint64_t delivered = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t overflowed = 0;
  std::vector<std::uint64_t> duplicates_into(s.actors, 0);
  std::string first_loss;
  for (std::uint64_t from = 0; from < s.actors; ++from) {
    for (std::uint64_t to = 0; to < s.actors; ++to) {
      if (from == to) continue;
      const pair_record& p = book.pair(from, to);
      const std::uint64_t q = quota(s.actors, s.messages, from, to);
      const auto& dead = dead_items[{from, to}];
      std::set<std::uint64_t> missing;
      const std::uint64_t ranges = p.gap_ranges.load();
      if (ranges > max_gap_ranges) ++overflowed;
      for (std::uint64_t g = 0; g < std::min<std::uint64_t>(ranges, max_gap_ranges); ++g) {
        for (std::uint64_t seq = p.gap_first[g].load(); seq <= p.gap_last[g].load(); ++seq) missing.insert(seq);
      }
      for (std::uint64_t seq = p.last_seen.load() + 1; seq <= q; ++seq) missing.insert(seq);
      for (std::uint64_t seq : missing) {
        if (dead.contains(seq)) {
          ++dead_lettered;
        } else {
          ++lost;
          if (first_loss.empty()) {
            first_loss = node_name(from) + " -> " + node_name(to) + " seq " + std::to_string(seq);
          }
        }
      }
      delivered += q - std::min<std::uint64_t>(missing.size(), q);
      duplicates += p.duplicates.load();
      duplicates_into[to] += p.duplicates.load();
      out_of_order += p.out_of_order.load();
      v.check(p.last_seen.load() <= q, node_name(from) + " -> " + node_name(to) + ": seq past its quota");
      v.check(p.confirmed.load() == p.last_seen.load() || !drained,
              node_name(from) + " -> " + node_name(to) + ": the sender's confirmation differs from the receiver's count");
    }
  }
  v.check(lost == 0, std::to_string(lost) + " message(s) neither delivered nor dead-lettered (first: " + first_loss + ")");
  v.check(out_of_order == 0, std::to_string(out_of_order) + " message(s) out of order");
  v.check(overflowed == 0, std::to_string(overflowed) + " pair(s) with more gaps than the ledger keeps");
  std::uint64_t total_kills = 0;
  std::uint64_t restarts = 0;
  std::uint64_t max_wait_ns = 0;
  std::uint64_t waits = 0;
  std::uint64_t total_wait_ns = 0;
  std::uint64_t max_start_ns = 0;
  std::uint64_t total_start_ns = 0;
  for (std::uint64_t i = 0; i < s.actors; ++i) {
    total_kills += kills[i];
    v.check(duplicates_into[i] <= kills[i], node_name(i) + ": " + std::to_string(duplicates_into[i]) +
                                                " duplicates for " + std::to_string(kills[i]) + " kills");
    restarts += rt.info(nodes[i]).restarts;
    max_wait_ns = std::max(max_wait_ns, book.actor(i).max_restart_wait_ns.load());
    waits += book.actor(i).restart_waits.load();
    total_wait_ns += book.actor(i).total_restart_wait_ns.load();
    max_start_ns = std::max(max_start_ns, book.actor(i).max_restart_start_ns.load());
    total_start_ns += book.actor(i).total_restart_start_ns.load();
  }
  std::uint64_t other_exits = 0;
  {
    std::lock_guard guard(exits_mutex);
    for (const auto& [how, count] : exits) {
      if (how.rfind("signal 9 ", 0) != 0 && how != "exit code 0") {
        other_exits += count;
      }
    }
  }
  v.check(other_exits == 0, std::to_string(other_exits) + " exit(s) other than our SIGKILLs and the final close");
  v.check(restarts == total_kills, std::to_string(restarts) + " restarts for " + std::to_string(total_kills) + " kills");
  const double max_wait_ms = static_cast<double>(max_wait_ns) / 1e6;
  if (s.max_restart_wait_ms != 0) {
    v.check(max_wait_ms < static_cast<double>(s.max_restart_wait_ms),
            "the longest wait past a restart was " + std::to_string(max_wait_ms) + " ms, not under " +
                std::to_string(s.max_restart_wait_ms) + " ms");
  }
  v.check(rss_end * 10 <= rss_start * 12, "the supervisor's RSS grew from " + std::to_string(rss_start) + " KiB to " +
                                              std::to_string(rss_end) + " KiB during the kill phase");
  v.check(total_kills > 0, "no kill landed");

  std::uint64_t failed_sends = 0;
  std::uint64_t failed_asks = 0;
  std::uint64_t stale = 0;
  for (std::uint64_t i = 0; i < s.actors; ++i) {
    failed_sends += book.actor(i).failed_sends.load();
    failed_asks += book.actor(i).failed_asks.load();
    stale += book.actor(i).stale_answers.load();
  }
  std::printf("soak: kill phase %.1f s: %llu SIGKILLs (%llu skipped: actor down or its last restart not yet measured); "
              "%llu of %llu messages sent by its end\n",
              kill_seconds, static_cast<unsigned long long>(total_kills), static_cast<unsigned long long>(skipped),
              static_cast<unsigned long long>(sent_in_kill_phase), static_cast<unsigned long long>(s.messages));
  std::printf("soak: %llu messages delivered in order per pair, %llu dead-lettered, %llu lost; %llu duplicate(s) "
              "(in flight at a kill), %llu out of order\n",
              static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(dead_lettered),
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicates),
              static_cast<unsigned long long>(out_of_order));
  std::printf("soak: longest wait past a restart %.1f ms (%llu restarts measured, %llu with no message after them); "
              "%llu restarts seen by the supervisor\n",
              max_wait_ms, static_cast<unsigned long long>(waits), static_cast<unsigned long long>(unmeasured),
              static_cast<unsigned long long>(restarts));
  std::string histogram;
  for (std::size_t b = 0; b < wait_buckets; ++b) {
    histogram += (b == 0 ? "" : ", ") +
                 (b < std::size(wait_bounds_ms) ? "<" + std::to_string(wait_bounds_ms[b]) + " ms: "
                                                : ">=" + std::to_string(wait_bounds_ms[b - 1]) + " ms: ") +
                 std::to_string(book.header().waits[b].load());
  }
  std::printf("soak: waits past a restart: %s\n", histogram.c_str());
  const double per_wait = waits == 0 ? 0.0 : 1e6 * static_cast<double>(waits);
  std::printf("soak: mean wait past a restart %.1f ms, of which %.1f ms before the new incarnation's on_start; the "
              "longest part before on_start %.1f ms\n",
              waits == 0 ? 0.0 : static_cast<double>(total_wait_ns) / per_wait,
              waits == 0 ? 0.0 : static_cast<double>(total_start_ns) / per_wait,
              static_cast<double>(max_start_ns) / 1e6);
  std::printf("soak: supervisor RSS %llu KiB at the start of the kill phase, %llu KiB at its end (%+.1f%%)\n",
              static_cast<unsigned long long>(rss_start), static_cast<unsigned long long>(rss_end),
              rss_start == 0 ? 0.0 : 100.0 * (static_cast<double>(rss_end) - static_cast<double>(rss_start)) /
                                         static_cast<double>(rss_start));
  std::printf("soak: %llu timed-out or refused sends (retried), %llu failed and %llu stale Where asks\n",
              static_cast<unsigned long long>(failed_sends), static_cast<unsigned long long>(failed_asks),
              static_cast<unsigned long long>(stale));
  for (const auto& [reason, count] : dead_reasons) {
    std::printf("soak: dead letters: %llu x %s\n", static_cast<unsigned long long>(count), reason.c_str());
  }
  {
    std::lock_guard guard(exits_mutex);
    for (const auto& [how, count] : exits) std::printf("soak: exits: %llu x %s\n", static_cast<unsigned long long>(count), how.c_str());
  }
  std::printf("soak: %s in %.1f s\n", v.failures() == 0 ? "PASSED" : "FAILED", total_seconds);
  std::fflush(stdout);
  rt.on_event({});
  return v.failures() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace soak

int main(int argc, char** argv) {
  procactor::Runtime::run_if_child();  // an actor process becomes its actor here
  const soak::settings s = soak::parse(argc, argv);
  procactor::Options options;
  options.log_events = false;  // thousands of exits and restarts: the summary says enough
  options.supervision.max_restarts = -1;  // however many kills land on one node
  if (s.lane_capacity != 0) options.lane_capacity = s.lane_capacity;
  if (s.arena_size != 0) options.arena_size = s.arena_size;
  try {
    procactor::Runtime rt(argc, argv, options);
    return soak::run(rt, s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 1;
  }
}
