// One lane, millions of records: two threads, then two processes with the
// consumer SIGKILLed and restarted.
//
// Every record carries its sequence number in its first 8 bytes and, after
// it, words derived from that number; its size (header included, 16 bytes
// up to lane_max_record) is a function of the seed and the sequence number
// too, so the consumer knows exactly what each record must be: it checks
// order, size and every byte, and the total count. Sizes are mostly small,
// with a tail up to the largest the lane takes, so the ring wraps at every
// offset, fills and drains.
//
// The two-process run keeps what must survive a SIGKILL in a shared
// anonymous mapping next to the lane. The consumer "handles" a record by
// storing the next sequence number it expects there, then commits the
// record. So a consumer killed between the two leaves one record that was
// handled but not committed: its successor must read that record first
// (the one duplicate SIGKILL may cause: at-least-once), and after it
// exactly the next one. Anything else — a gap, a record out of order, a
// duplicate that was not the one in flight, a corrupt record — fails.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lane.hpp"
#include "stress_config.hpp"

using namespace procactor::detail;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The whole record's size, header included: 16 (a header and the sequence
// number; a bare 8-byte header is not a record a writer may reserve) up to
// lane_max_record, rounded to 8. 80% up to 256 bytes, 15% up to 4 KiB, 4%
// anywhere up to the largest, 1% the largest itself.
std::size_t record_size(std::uint64_t seed, std::uint64_t seq, std::uint64_t capacity) {
  const std::size_t largest = lane_max_record(capacity) & ~std::size_t{7};
  const std::uint64_t r = mix(seed ^ (seq * 0xD6E8FEB86659FD93ULL));
  const std::uint64_t pick = r >> 8;
  std::size_t size = 0;
  switch (r % 100) {
    case 99:
      size = largest;
      break;
    case 95: case 96: case 97: case 98:
      size = 16 + pick % largest;
      break;
    default:
      size = 16 + pick % (r % 100 < 80 ? 241 : 4081);
      break;
  }
  size = (size + 7) & ~std::size_t{7};
  return std::min(size, largest);
}

std::uint64_t content_word(std::uint64_t seq, std::size_t k) {
  return (seq * 0x9E3779B97F4A7C15ULL) ^ (k * 0xD1B54A32D192ED03ULL) ^ 0x5EED5EED5EED5EEDULL;
}

// Publishes record `seq`, or returns false when the lane has no room now.
bool write_record(lane_writer& writer, std::uint64_t seq, std::size_t size) {
  std::byte* at = writer.reserve(size);
  if (at == nullptr) return false;
  const std::size_t words = (size - sizeof(record_header)) / 8;
  std::memcpy(at, &seq, 8);
  for (std::size_t k = 1; k < words; ++k) {
    const std::uint64_t word = content_word(seq, k);
    std::memcpy(at + 8 * k, &word, 8);
  }
  writer.publish();
  return true;
}

// What is wrong with `record` as record `seq`, or "" when nothing is.
std::string check_record(std::span<const std::byte> record, std::uint64_t seq, std::size_t size) {
  if (record.size() != size - sizeof(record_header)) {
    return "record " + std::to_string(seq) + " has " + std::to_string(record.size()) + " bytes, not " +
           std::to_string(size - sizeof(record_header));
  }
  for (std::size_t k = 1; k < record.size() / 8; ++k) {
    std::uint64_t word;
    std::memcpy(&word, record.data() + 8 * k, 8);
    if (word != content_word(seq, k)) {
      return "record " + std::to_string(seq) + ": word " + std::to_string(k) + " differs";
    }
  }
  return {};
}

std::uint64_t sequence_of(std::span<const std::byte> record) {
  std::uint64_t seq = ~std::uint64_t{0};
  if (record.size() >= 8) std::memcpy(&seq, record.data(), 8);
  return seq;
}

// Waiting for the other side without taking the CPU it needs: spin a few
// microseconds, then yield for a couple of milliseconds, then sleep in short
// naps (two cores, shared with builds: a spinner can starve its peer).
class backoff {
 public:
  void wait() {
    if (rounds_++ == 0) since_ = clock_type::now();
    if ((rounds_ & 15U) != 0) return;
    const auto waited = clock_type::now() - since_;
    if (waited < 20us) return;
    if (waited < 2ms) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(50us);
    }
  }
  void reset() { rounds_ = 0; }

 private:
  unsigned rounds_ = 0;
  clock_type::time_point since_{};
};

struct lane_memory {
  explicit lane_memory(std::uint64_t capacity)
      : memory(::operator new(sizeof(lane) + capacity, std::align_val_t{64})), l(lane_create(memory, capacity, 1)) {}
  ~lane_memory() { ::operator delete(memory, std::align_val_t{64}); }
  lane_memory(const lane_memory&) = delete;
  lane_memory& operator=(const lane_memory&) = delete;
  void* memory;
  lane* l;
};

void run_threads(std::uint64_t capacity, std::uint64_t records, std::uint64_t seed) {
  CAPTURE(capacity);
  CAPTURE(records);
  lane_memory ring(capacity);
  lane* l = ring.l;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> full_waits{0};
  std::thread producer([&] {
    lane_writer writer(l);
    backoff waiting;
    for (std::uint64_t seq = 0; seq < records; ++seq) {
      const std::size_t size = record_size(seed, seq, capacity);
      while (!write_record(writer, seq, size)) {
        if (stop.load(std::memory_order_relaxed)) return;
        full_waits.fetch_add(1, std::memory_order_relaxed);
        waiting.wait();
      }
      waiting.reset();
    }
  });
  // Joins the producer however the consumer's checks end.
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~joiner() {
      stop.store(true);
      thread.join();
    }
  } join_producer{stop, producer};

  const auto start = clock_type::now();
  std::uint64_t next = 0;
  std::uint64_t cached_tail = 0;
  std::uint64_t laps = 0;
  std::uint64_t empty_waits = 0;
  std::uint64_t bytes = 0;
  backoff waiting;
  auto last_progress = clock_type::now();
  while (next < records) {
    const read_result r = lane_peek(l, cached_tail);
    if (r.status == read_status::empty) {
      ++empty_waits;
      // Not a timing assertion: a bound on a hung run, minutes past any
      // plausible pause of the producer.
      if (empty_waits % 4096 == 0 && clock_type::now() - last_progress > 120s) {
        FAIL("no record for 120 s after record " << next);
      }
      waiting.wait();
      continue;
    }
    if (r.status != read_status::record) FAIL("record " << next << ": " << r.problem);
    const std::uint64_t seq = sequence_of(r.record);
    if (seq != next) FAIL("expected record " << next << ", read record " << seq);
    const std::string problem = check_record(r.record, next, record_size(seed, next, capacity));
    if (!problem.empty()) FAIL(problem);
    if (r.position / capacity != laps) laps = r.position / capacity;
    bytes += r.record.size();
    lane_commit(l, r.next);
    ++next;
    waiting.reset();
    if ((next & 0xFFF) == 0) last_progress = clock_type::now();
  }
  stop.store(true);
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  CHECK(next == records);
  CHECK(lane_empty(l));
  std::printf(
      "two threads, lane of %llu bytes: %llu records (%.1f MB) in order and intact in %.2f s (%.2f M records/s); "
      "the ring went round %llu times; %llu full and %llu empty waits\n",
      static_cast<unsigned long long>(capacity), static_cast<unsigned long long>(next), static_cast<double>(bytes) / 1e6,
      seconds, static_cast<double>(next) / seconds / 1e6, static_cast<unsigned long long>(laps),
      static_cast<unsigned long long>(full_waits.load()), static_cast<unsigned long long>(empty_waits));
  std::fflush(stdout);
}

// ---- two processes ----

// Lives in the shared mapping, before the lane: what outlives a SIGKILL.
struct control {
  std::atomic<std::uint64_t> next_seq;      // consumer: every record below it was handled
  std::atomic<std::uint64_t> duplicates;    // consumer: redeliveries of the record in flight at a kill
  std::atomic<std::uint64_t> incarnations;  // consumer processes that started
  std::atomic<std::uint64_t> produced;      // producer: records published
  std::atomic<std::uint64_t> failed;        // consumer: 1 once it found something wrong
  std::atomic<std::uint64_t> pause_at;      // test: the record to stop at, handled but not committed
  std::atomic<std::uint64_t> paused;        // consumer: 1 once it stopped there
  char problem[256];                        // consumer: what, NUL-terminated
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
constexpr std::size_t control_bytes = 4096;
static_assert(sizeof(control) <= control_bytes);

class shared_mapping {
 public:
  explicit shared_mapping(std::size_t size) : size_(size) {
    at_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at_ == MAP_FAILED) throw std::runtime_error("mmap of " + std::to_string(size) + " bytes failed");
  }
  ~shared_mapping() { ::munmap(at_, size_); }
  shared_mapping(const shared_mapping&) = delete;
  shared_mapping& operator=(const shared_mapping&) = delete;
  [[nodiscard]] std::byte* get() const { return static_cast<std::byte*>(at_); }

 private:
  void* at_;
  std::size_t size_;
};

// The children of this test: SIGKILLed and reaped when the test ends, pass
// or fail; each also dies with this process (PR_SET_PDEATHSIG).
class children {
 public:
  children() = default;
  children(const children&) = delete;
  children& operator=(const children&) = delete;
  ~children() {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  template <class Body>
  pid_t start(Body&& body) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(120);  // the parent died before prctl took effect
      int code = 121;
      try {
        code = body();
      } catch (...) {
        code = 122;
      }
      ::_exit(code);
    }
    pids_.push_back(pid);
    return pid;
  }

  // The child's wait status once it has ended, or nothing after `limit`.
  std::optional<int> wait(pid_t pid, std::chrono::seconds limit) {
    const auto deadline = clock_type::now() + limit;
    for (;;) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::erase(pids_, pid);
        return status;
      }
      if (clock_type::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(1ms);
    }
  }

  // True once the child has ended (and then `status` is set).
  bool ended(pid_t pid, int& status) {
    if (::waitpid(pid, &status, WNOHANG) != pid) return false;
    std::erase(pids_, pid);
    return true;
  }

 private:
  std::vector<pid_t> pids_;
};

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

int consumer_main(control* c, lane* l, std::uint64_t records, std::uint64_t seed) {
  c->incarnations.fetch_add(1);
  const std::uint64_t capacity = l->capacity;
  std::uint64_t next = c->next_seq.load();
  std::uint64_t cached_tail = 0;
  bool first = true;
  backoff waiting;
  const auto fail = [&](const std::string& what) {
    std::snprintf(c->problem, sizeof c->problem, "%s", what.c_str());
    c->failed.store(1);
    return 3;
  };
  while (next < records) {
    const read_result r = lane_peek(l, cached_tail);
    if (r.status == read_status::empty) {
      waiting.wait();
      continue;
    }
    waiting.reset();
    if (r.status != read_status::record) return fail("record " + std::to_string(next) + ": " + r.problem);
    const std::uint64_t seq = sequence_of(r.record);
    const std::string problem = check_record(r.record, seq, record_size(seed, seq, capacity));
    if (seq < records && !problem.empty()) return fail(problem);
    if (first && seq + 1 == next) {
      // Handled by the incarnation before us, which died before committing it.
      c->duplicates.fetch_add(1);
    } else if (seq != next) {
      return fail("expected record " + std::to_string(next) + ", read record " + std::to_string(seq) +
                  (first ? " first after a restart" : ""));
    } else {
      c->next_seq.store(++next);  // handled...
      if (seq == c->pause_at.load()) {
        // Asked to wait here, with the record in flight, for the SIGKILL.
        c->paused.store(1);
        for (;;) std::this_thread::sleep_for(1ms);
      }
    }
    lane_commit(l, r.next);  // ...then committed
    first = false;
  }
  return 0;
}

int producer_main(control* c, lane* l, std::uint64_t records, std::uint64_t seed) {
  lane_writer writer(l);
  backoff waiting;
  for (std::uint64_t seq = 0; seq < records; ++seq) {
    const std::size_t size = record_size(seed, seq, l->capacity);
    while (!write_record(writer, seq, size)) waiting.wait();
    waiting.reset();
    c->produced.store(seq + 1, std::memory_order_relaxed);
  }
  return 0;
}

}  // namespace

TEST_CASE("two threads: records of random sizes come out in order, intact, exactly once" * doctest::timeout(400)) {
  const auto& s = stress::settings();
  // A small lane first: wraps at nearly every record, full and empty all
  // the time; then the configured one.
  run_threads(512, std::max<std::uint64_t>(s.records / 8, 1000), s.seed);
  run_threads(s.capacity, s.records, s.seed);
}

TEST_CASE("two processes: a consumer SIGKILLed mid-stream and restarted loses nothing committed" *
          doctest::timeout(400)) {
  const auto& s = stress::settings();
  const std::uint64_t records = s.records;
  shared_mapping memory(control_bytes + sizeof(lane) + s.capacity);
  auto* c = new (memory.get()) control{};
  lane* l = lane_create(memory.get() + control_bytes, s.capacity, 1);
  // No pause point until one is set below: stored before the consumer
  // starts, which would otherwise stop at record 0 (the zeroed value) if it
  // got there first.
  c->pause_at.store(~std::uint64_t{0});

  children kids;
  const auto start = clock_type::now();
  const pid_t producer = kids.start([&] { return producer_main(c, l, records, s.seed); });
  pid_t consumer = kids.start([&] { return consumer_main(c, l, records, s.seed); });

  // Kill points spread over the stream, each at a random place in its
  // stretch. Odd kills land wherever the consumer is, a random 0-500 µs
  // after it passes the point; even ones while the record at the point is
  // in flight (handled, not committed): the consumer waits there for them,
  // so that path is taken in every run, not only when a kill happens to hit
  // a window of a few instructions.
  std::mt19937_64 random(s.seed);
  unsigned kills = 0;
  unsigned in_flight_kills = 0;
  std::uint64_t reached = 0;
  for (unsigned k = 0; k < s.kills; ++k) {
    const std::uint64_t stretch = records / (s.kills + 1);
    const std::uint64_t target = stretch * (k + 1) + (stretch == 0 ? 0 : random() % stretch / 2);
    const bool in_flight = k % 2 == 1;
    if (in_flight) c->pause_at.store(target);
    const auto deadline = clock_type::now() + 120s;
    const auto arrived = [&] { return in_flight ? c->paused.load() == 1 : c->next_seq.load() >= target; };
    int status = 0;
    while (!arrived() && clock_type::now() < deadline) {
      if (kids.ended(consumer, status)) FAIL("the consumer ended on its own (" << describe(status) << "): " << c->problem);
      // Looked at, not reaped (WNOWAIT): the end of the test reaps it.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(producer), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == producer &&
          !(info.si_code == CLD_EXITED && info.si_status == 0)) {
        FAIL("the producer died (code " << info.si_code << ", status " << info.si_status << ")");
      }
      std::this_thread::sleep_for(200us);
    }
    REQUIRE_MESSAGE(arrived(), "no progress to record " << target << " in 120 s: the consumer is at record "
                                   << c->next_seq.load() << ", the producer has published " << c->produced.load()
                                   << ", head " << l->head.load() << ", tail " << l->tail.load());
    if (!in_flight) std::this_thread::sleep_for(std::chrono::microseconds(random() % 500));
    ::kill(consumer, SIGKILL);
    const auto ended = kids.wait(consumer, 30s);
    REQUIRE(ended.has_value());
    // It may have finished the stream, or failed, before the signal landed.
    if (!(WIFSIGNALED(*ended) && WTERMSIG(*ended) == SIGKILL)) {
      REQUIRE_MESSAGE(*ended == 0, "the consumer ended with " << describe(*ended) << ": " << c->problem);
    } else {
      ++kills;
      in_flight_kills += in_flight ? 1 : 0;
    }
    c->pause_at.store(~std::uint64_t{0});
    c->paused.store(0);
    reached = c->next_seq.load();
    consumer = kids.start([&] { return consumer_main(c, l, records, s.seed); });
  }

  const auto consumer_end = kids.wait(consumer, 300s);
  REQUIRE_MESSAGE(consumer_end.has_value(), "the last consumer did not finish in 300 s, at record " << c->next_seq.load());
  CHECK_MESSAGE(*consumer_end == 0, "the last consumer ended with " << describe(*consumer_end) << ": " << c->problem);
  const auto producer_end = kids.wait(producer, 60s);
  REQUIRE(producer_end.has_value());
  CHECK(*producer_end == 0);
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();

  CHECK_MESSAGE(c->failed.load() == 0, c->problem);
  CHECK(c->produced.load() == records);
  CHECK(c->next_seq.load() == records);  // every record handled, none lost
  CHECK(c->duplicates.load() <= kills);  // at most the one in flight per kill...
  CHECK(c->duplicates.load() >= in_flight_kills);  // ...and surely after a kill while one was
  CHECK(lane_empty(l));
  std::printf(
      "two processes, lane of %llu bytes: %llu records in order and intact in %.2f s; %u consumer SIGKILLs (%u with a record "
      "in flight; the last at record %llu), %llu consumer processes, %llu redelivered record(s) in flight at a kill\n",
      static_cast<unsigned long long>(s.capacity), static_cast<unsigned long long>(c->next_seq.load()), seconds, kills,
      in_flight_kills, static_cast<unsigned long long>(reached), static_cast<unsigned long long>(c->incarnations.load()),
      static_cast<unsigned long long>(c->duplicates.load()));
  std::fflush(stdout);
}
