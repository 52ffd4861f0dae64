// The procactor side of the benchmark: actors and a pool in other processes,
// driven from the benchmark's main process through the public API only.
#include "procactor_workloads.hpp"

#include <procactor/procactor.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <random>
#include <system_error>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace procactor_bench {

// The stream's message: ~32 bytes, cereal-serialized by send() and decoded and
// dispatched to Counter::on in the actor's process, i.e. the whole path.
struct Tick {
  std::uint64_t seq = 0;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::uint64_t c = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq, a, b, c);
  }
};

// Asked at the end of a stream run: the consumer's reply (Totals) proves it
// has handled every Tick, and the sums show none was lost or doubled.
struct Flush {
  template <class Archive>
  void serialize(Archive&) {}
};

struct Totals {
  std::uint64_t count = 0;
  std::uint64_t seq_sum = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(count, seq_sum);
  }
};

struct Ping {
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq);
  }
};

struct Pong {
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq);
  }
};

// restart_latency: a unit of busy work, asked back to back before each kill.
struct Chore {
  std::uint64_t seq = 0;
  std::int64_t busy_ns = 0;  // the handler spins this long
  template <class Archive>
  void serialize(Archive& archive) {
    archive(seq, busy_ns);
  }
};

// The probe sent after a kill; its handler answers with the process's
// identity.
struct WhoAreYou {
  template <class Archive>
  void serialize(Archive&) {}
};

// Which process answered: getpid(), and a random number drawn once per
// process, so that a reused pid cannot pass for the killed incarnation or
// the other way round.
struct Incarnation {
  std::int32_t pid = 0;
  std::uint64_t nonce = 0;
  std::uint64_t seq = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(pid, nonce, seq);
  }
};

}  // namespace procactor_bench

// Registered before the actors that handle them: Actor<> checks that every
// message type it lists is registered.
PROCACTOR_MESSAGE(procactor_bench::Tick);
PROCACTOR_MESSAGE(procactor_bench::Flush);
PROCACTOR_MESSAGE(procactor_bench::Totals);
PROCACTOR_MESSAGE(procactor_bench::Ping);
PROCACTOR_MESSAGE(procactor_bench::Pong);
PROCACTOR_MESSAGE(procactor_bench::Chore);
PROCACTOR_MESSAGE(procactor_bench::WhoAreYou);
PROCACTOR_MESSAGE(procactor_bench::Incarnation);

namespace procactor_bench {

class Counter : public procactor::Actor<Counter, Tick, Flush> {
 public:
  void on(const Tick& tick) {
    ++totals_.count;
    totals_.seq_sum += tick.seq;
  }
  Totals on(const Flush&) {
    const Totals done = totals_;
    totals_ = {};
    return done;
  }

 private:
  Totals totals_;
};

class Echo : public procactor::Actor<Echo, Ping> {
 public:
  Pong on(const Ping& ping) { return Pong{ping.seq}; }
};

class RestartWorker : public procactor::Actor<RestartWorker, Chore, WhoAreYou> {
 public:
  Incarnation on(const Chore& chore) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(chore.busy_ns);
    while (std::chrono::steady_clock::now() < until) {
    }
    return {pid_, nonce_, chore.seq};
  }
  Incarnation on(const WhoAreYou&) { return {pid_, nonce_, 0}; }

 private:
  static std::uint64_t draw_nonce() {
    std::random_device device;
    const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return ((std::uint64_t{device()} << 32) | device()) ^ now;
  }

  std::int32_t pid_ = static_cast<std::int32_t>(::getpid());
  std::uint64_t nonce_ = draw_nonce();
};

// Trial division: CPU-bound, no memory traffic, the same code serially and
// in the pool's workers.
std::uint64_t count_primes(std::uint64_t from, std::uint64_t to) {
  std::uint64_t count = 0;
  for (std::uint64_t n = std::max<std::uint64_t>(from, 2); n < to; ++n) {
    bool prime = true;
    for (std::uint64_t d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime ? 1 : 0;
  }
  return count;
}

}  // namespace procactor_bench

PROCACTOR_ACTOR(procactor_bench::Counter);
PROCACTOR_ACTOR(procactor_bench::Echo);
PROCACTOR_ACTOR(procactor_bench::RestartWorker);

namespace procactor_bench {
PROCACTOR_FUNCTION(count_primes);

namespace {

// Only a dead or wedged actor comes near these; the measurements take
// milliseconds to seconds.
constexpr auto reply_timeout = std::chrono::seconds(60);
constexpr auto join_timeout = std::chrono::seconds(10);

procactor::Options runtime_options() {
  procactor::Options options;
  // The benchmark starts and stops actors on purpose; one stderr line per
  // exit would bury its output. Failures still surface as errors.
  options.log_events = false;
  // restart_latency kills one worker hundreds of times in a few seconds: the
  // root group must never give up on it (no other workload crashes).
  options.supervision.max_restarts = -1;
  return options;
}

// Closes and joins an actor on every exit path of a measurement.
class scoped_actor {
 public:
  explicit scoped_actor(procactor::ActorRef ref) : ref_(ref) {}
  ~scoped_actor() {
    ref_.close();
    if (!ref_.join(join_timeout)) ref_.kill();
  }
  scoped_actor(const scoped_actor&) = delete;
  scoped_actor& operator=(const scoped_actor&) = delete;
  [[nodiscard]] const procactor::ActorRef& ref() const { return ref_; }

 private:
  procactor::ActorRef ref_;
};

std::uint64_t sum_of_seq(std::uint64_t messages) { return messages * (messages - 1) / 2; }

}  // namespace

struct procactor_workloads::impl {
  explicit impl(int argc, char** argv) : runtime(argc, argv, runtime_options()) {}
  procactor::Runtime runtime;
  int spawned = 0;

  // A fresh actor per measurement, so that none inherits another's lanes.
  template <class A>
  procactor::ActorRef spawn(const char* role, procactor::SpawnOptions options = {}) {
    return runtime.spawn<A>(std::string(role) + "-" + std::to_string(spawned++), std::move(options));
  }
};

procactor_workloads::procactor_workloads(int argc, char** argv)
    : impl_(std::make_unique<impl>(argc, argv)) {}

procactor_workloads::~procactor_workloads() = default;

std::size_t procactor_workloads::lane_capacity_bytes() const {
  return impl_->runtime.options().lane_capacity;
}

summary procactor_workloads::stream_msg_per_s(const stream_params& params) {
  scoped_actor consumer(impl_->spawn<Counter>("counter"));
  const procactor::ActorRef& ref = consumer.ref();
  // The first ask waits until the actor's process is up, so that start-up is
  // not timed.
  (void)ref.ask<Totals>(Flush{}, reply_timeout).get();

  return stream_rate(params, [&](std::uint64_t messages) {
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < messages; ++i) {
      ref.send(Tick{i, 0x11111111, 0x22222222, 0x33333333});
    }
    const Totals totals = ref.ask<Totals>(Flush{}, reply_timeout).get();
    const auto stop = bench_clock::now();
    if (totals.count != messages || totals.seq_sum != sum_of_seq(messages)) {
      throw std::runtime_error("the consumer actor lost or duplicated Ticks");
    }
    return seconds_between(start, stop);
  });
}

summary procactor_workloads::round_trip_us(const round_trip_params& params) {
  if (params.samples <= 0) throw std::invalid_argument("round trip with no samples");
  scoped_actor echo(impl_->spawn<Echo>("echo"));
  const procactor::ActorRef& ref = echo.ref();
  (void)ref.ask<Pong>(Ping{}, reply_timeout).get();

  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(params.samples));
  for (int i = 0; i < params.warmups + params.samples; ++i) {
    if (params.pause.count() > 0) std::this_thread::sleep_for(params.pause);
    const Ping ping{static_cast<std::uint64_t>(i)};
    const auto start = bench_clock::now();
    const Pong pong = ref.ask<Pong>(ping, reply_timeout).get();
    const auto stop = bench_clock::now();
    if (pong.seq != ping.seq) throw std::runtime_error("the echo actor answered the wrong ping");
    if (i >= params.warmups) samples.push_back(microseconds_between(start, stop));
  }
  return summarize(std::move(samples));
}

primes_result procactor_workloads::primes(const primes_params& params) {
  const unsigned workers = std::max(1U, std::thread::hardware_concurrency());
  procactor::Pool pool(impl_->runtime, workers);
  // One tiny task per worker (submit is round-robin): every worker process is
  // up before the clock starts.
  std::vector<procactor::Future<std::uint64_t>> warm;
  for (unsigned i = 0; i < workers; ++i) warm.push_back(pool.submit(count_primes, 0, 10));
  for (auto& future : warm) (void)future.get();

  const std::uint64_t chunks = std::uint64_t{workers} * static_cast<std::uint64_t>(params.chunks_per_worker);
  std::vector<std::tuple<std::uint64_t, std::uint64_t>> ranges;
  for (std::uint64_t i = 0; i < chunks; ++i) {
    ranges.emplace_back(params.limit * i / chunks, params.limit * (i + 1) / chunks);
  }

  std::uint64_t serial_count = 0;
  const summary serial = repeat(params.warmups, params.runs, [&] {
    const auto start = bench_clock::now();
    serial_count = count_primes(0, params.limit);
    return seconds_between(start, bench_clock::now());
  });
  const summary parallel = repeat(params.warmups, params.runs, [&] {
    const auto start = bench_clock::now();
    const auto counts = pool.map(count_primes, ranges);
    const auto stop = bench_clock::now();
    std::uint64_t total = 0;
    for (const auto count : counts) total += count;
    if (total != serial_count) throw std::runtime_error("the pool counted a different number of primes");
    return seconds_between(start, stop);
  });
  pool.close();
  return {serial, parallel, serial.median / parallel.median, workers};
}

namespace {

// The pid of the incarnation that answered `seen`, once ref.pid() agrees
// with it (it may lag the process by a moment after a restart).
int settled_pid(const procactor::ActorRef& ref, const Incarnation& seen) {
  const auto deadline = bench_clock::now() + std::chrono::seconds(5);
  for (;;) {
    const auto pid = ref.pid();
    if (pid && *pid == seen.pid) return *pid;
    if (bench_clock::now() >= deadline) {
      throw std::runtime_error("ref.pid() says " + (pid ? std::to_string(*pid) : std::string("none")) +
                               " but pid " + std::to_string(seen.pid) + " answered");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

restart_result procactor_workloads::restart_latency_ms(const restart_params& params) {
  if (params.kills <= 0) throw std::invalid_argument("restart latency with no kills");
  procactor::SpawnOptions options;
  options.restart = procactor::Restart::permanent;
  options.backoff.initial = std::chrono::milliseconds(0);
  // Without a cap of 0 the delay grows from the second restart on (1 ms,
  // 2 ms, ... 1 s) until an incarnation has run for reset_after (10 s): the
  // figure would be the backoff's, not the restart's.
  options.backoff.max = std::chrono::milliseconds(0);
  scoped_actor worker(impl_->spawn<RestartWorker>("restart-worker", options));
  const procactor::ActorRef& ref = worker.ref();

  restart_result result;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(params.kills));
  std::uint64_t seq = 0;
  Incarnation current = ref.ask<Incarnation>(WhoAreYou{}, reply_timeout).get();
  for (int kill = 0; kill < params.warmups + params.kills; ++kill) {
    const bool timed = kill >= params.warmups;
    // Busy: back-to-back asks, each handler spinning a little; the worker is
    // killed right after the last answer, while it waits for the next one.
    for (int i = 0; i < params.busy_asks; ++i) {
      const Chore chore{++seq, std::chrono::nanoseconds(params.busy_handler).count()};
      const Incarnation done = ref.ask<Incarnation>(chore, reply_timeout).get();
      if (done.seq != chore.seq || done.nonce != current.nonce) {
        throw std::runtime_error("the worker answered a chore it was not asked, or restarted unasked");
      }
    }
    const int pid = settled_pid(ref, current);
    if (::kill(pid, SIGKILL) != 0) throw std::system_error(errno, std::generic_category(), "kill");
    const auto start = bench_clock::now();
    std::optional<Incarnation> replacement;
    while (!replacement) {
      if (bench_clock::now() - start > params.give_up) {
        throw std::runtime_error("no new incarnation answered within " +
                                 std::to_string(params.give_up.count()) + " ms of a kill");
      }
      if (timed) ++result.probes;
      try {
        const Incarnation who = ref.ask<Incarnation>(WhoAreYou{}, params.probe_timeout).get();
        // Only a process that is not the killed one counts: the nonce tells
        // them apart even if the kernel handed the pid out again.
        if (who.nonce != current.nonce) {
          replacement = who;
        } else if (timed) {
          ++result.stale_answers;
        }
      } catch (const procactor::error& e) {
        if (e.code() == procactor::errc::timeout) {
          if (timed) ++result.probe_timeouts;
        } else if (e.code() == procactor::errc::actor_died) {
          if (timed) ++result.probe_errors;
        } else {
          throw;
        }
      }
    }
    const auto stop = bench_clock::now();
    if (timed) samples.push_back(microseconds_between(start, stop) / 1000.0);
    current = *replacement;
  }
  result.latency_ms = summarize(std::move(samples));
  return result;
}

}  // namespace procactor_bench
