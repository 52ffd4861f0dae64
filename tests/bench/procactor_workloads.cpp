// The procactor side of the benchmark: actors and a pool in other processes,
// driven from the benchmark's main process through the public API only.
#include "procactor_workloads.hpp"

#include <procactor/procactor.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <system_error>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../examples/plugin/primes.hpp"
#include "one_cpu.hpp"

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

// Asked by each sender of the multi-sender stream after its last Tick: its
// lane is first in, first out, so the answer means that the consumer has
// handled every Tick of that sender.
struct Sync {
  template <class Archive>
  void serialize(Archive&) {}
};

// Tells a Sender actor to stream `count` Ticks, numbered from `first`, to
// `target`, and to answer once the target has handled them (Sync).
struct Burst {
  procactor::ActorRef target;
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(target, first, count);
  }
};

// Where a pipeline stage forwards what it gets.
struct Wire {
  procactor::ActorRef next;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(next);
  }
};

// --callgrind: the consumer's handler opens this FIFO for reading and waits
// for its writer to come and go, so that every Tick is queued before the
// consumer handles the first one.
struct Hold {
  std::string fifo;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(fifo);
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
PROCACTOR_MESSAGE(procactor_bench::Sync);
PROCACTOR_MESSAGE(procactor_bench::Burst);
PROCACTOR_MESSAGE(procactor_bench::Wire);
PROCACTOR_MESSAGE(procactor_bench::Hold);
PROCACTOR_MESSAGE(procactor_bench::Ping);
PROCACTOR_MESSAGE(procactor_bench::Pong);
PROCACTOR_MESSAGE(procactor_bench::Chore);
PROCACTOR_MESSAGE(procactor_bench::WhoAreYou);
PROCACTOR_MESSAGE(procactor_bench::Incarnation);

namespace procactor_bench {

// Only a dead or wedged actor comes near these; the measurements take
// milliseconds to seconds.
constexpr auto reply_timeout = std::chrono::seconds(60);
constexpr auto join_timeout = std::chrono::seconds(10);

// Tick is listed first: dispatch tries the types in order, and the stream's
// figure should not pay for the others.
class Counter : public procactor::Actor<Counter, Tick, Flush, Sync, Hold> {
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
  void on(const Sync&) {}
  void on(const Hold& hold) {
    // open() blocks until the driver opens the FIFO for writing; read()
    // then blocks until it closes it. Neither costs instructions.
    const int fd = ::open(hold.fifo.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + hold.fifo);
    char byte = 0;
    for (;;) {
      const ssize_t got = ::read(fd, &byte, 1);
      if (got == 0 || (got < 0 && errno != EINTR)) break;
    }
    ::close(fd);
  }

 private:
  Totals totals_;
};

// One of the multi-sender stream's senders: a process of its own.
class Sender : public procactor::Actor<Sender, Burst> {
 public:
  void on(const Burst& burst) {
    for (std::uint64_t i = 0; i < burst.count; ++i) {
      burst.target.send(Tick{burst.first + i, 0x11111111, 0x22222222, 0x33333333});
    }
    burst.target.ask<void>(Sync{}, reply_timeout).get();
  }
};

// A middle stage of the pipeline: decodes each Tick and sends it on, as a
// graph's transforming actor would. A Flush travels down the pipeline behind
// the Ticks (each lane is first in, first out) and the sink's Totals back up.
class Forwarder : public procactor::Actor<Forwarder, Tick, Flush, Wire> {
 public:
  void on(const Tick& tick) { next_.send(tick); }
  Totals on(const Flush& flush) { return next_.ask<Totals>(flush, reply_timeout).get(); }
  void on(const Wire& wire) { next_ = wire.next; }

 private:
  procactor::ActorRef next_;
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

// Trial division: CPU-bound, no memory traffic. The graph's PrimeCounters'
// function, so that the pool, the graph and the serial count do the same
// work per number and one serial time serves them all.
std::uint64_t count_primes(std::uint64_t from, std::uint64_t to) {
  return static_cast<std::uint64_t>(
      examples::count_primes(static_cast<std::int64_t>(from), static_cast<std::int64_t>(to)));
}

}  // namespace procactor_bench

PROCACTOR_ACTOR(procactor_bench::Counter);
PROCACTOR_ACTOR(procactor_bench::Sender);
PROCACTOR_ACTOR(procactor_bench::Forwarder);
PROCACTOR_ACTOR(procactor_bench::Echo);
PROCACTOR_ACTOR(procactor_bench::RestartWorker);

namespace procactor_bench {
PROCACTOR_FUNCTION(count_primes);

namespace {

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

summary procactor_workloads::stream_senders_msg_per_s(const stream_params& params, int senders) {
  if (senders <= 0) throw std::invalid_argument("stream with no senders");
  scoped_actor consumer(impl_->spawn<Counter>("counter"));
  const procactor::ActorRef& target = consumer.ref();
  (void)target.ask<Totals>(Flush{}, reply_timeout).get();
  std::vector<std::unique_ptr<scoped_actor>> pool;
  for (int i = 0; i < senders; ++i) {
    pool.push_back(std::make_unique<scoped_actor>(impl_->spawn<Sender>("sender")));
    // An empty burst: the sender is up and its lane to the consumer exists
    // before anything is timed.
    pool.back()->ref().ask<void>(Burst{target, 0, 0}, reply_timeout).get();
  }

  const auto share = static_cast<std::uint64_t>(senders);
  return stream_rate(params, [&](std::uint64_t wanted) {
    // Every sender sends the same number; the total is rounded down to it.
    const std::uint64_t each = std::max<std::uint64_t>(1, wanted / share);
    const std::uint64_t messages = each * share;
    std::vector<procactor::Future<void>> done;
    done.reserve(pool.size());
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < share; ++i) {
      done.push_back(pool[i]->ref().ask<void>(Burst{target, i * each, each}, reply_timeout));
    }
    for (auto& future : done) future.get();
    const Totals totals = target.ask<Totals>(Flush{}, reply_timeout).get();
    const auto stop = bench_clock::now();
    if (totals.count != messages || totals.seq_sum != sum_of_seq(messages)) {
      throw std::runtime_error("the consumer actor lost or duplicated Ticks of several senders");
    }
    // The rate of the messages actually sent, so a rounded-down total
    // does not flatter the figure.
    return seconds_between(start, stop) * static_cast<double>(wanted) / static_cast<double>(messages);
  });
}

summary procactor_workloads::pipeline_msg_per_s(const stream_params& params) {
  scoped_actor sink(impl_->spawn<Counter>("sink"));
  scoped_actor second(impl_->spawn<Forwarder>("middle"));
  scoped_actor first(impl_->spawn<Forwarder>("middle"));
  (void)sink.ref().ask<Totals>(Flush{}, reply_timeout).get();
  second.ref().ask<void>(Wire{sink.ref()}, reply_timeout).get();
  first.ref().ask<void>(Wire{second.ref()}, reply_timeout).get();
  // Through the whole pipeline once: every process is up, every lane exists.
  (void)first.ref().ask<Totals>(Flush{}, reply_timeout).get();

  const procactor::ActorRef& ref = first.ref();
  return stream_rate(params, [&](std::uint64_t messages) {
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < messages; ++i) {
      ref.send(Tick{i, 0x11111111, 0x22222222, 0x33333333});
    }
    const Totals totals = ref.ask<Totals>(Flush{}, reply_timeout).get();
    const auto stop = bench_clock::now();
    if (totals.count != messages || totals.seq_sum != sum_of_seq(messages)) {
      throw std::runtime_error("the pipeline lost or duplicated Ticks");
    }
    return seconds_between(start, stop);
  });
}

summary procactor_workloads::round_trip_us(const round_trip_params& params) {
  if (params.samples <= 0) throw std::invalid_argument("round trip with no samples");
  std::optional<pinned_to_one_cpu> pinned;
  procactor::SpawnOptions options;
  if (params.one_cpu) {
    pinned.emplace();
    options.cpu = pinned->cpu();
  }
  scoped_actor echo(impl_->spawn<Echo>("echo", std::move(options)));
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

primes_run serial_primes(std::uint64_t limit) {
  const auto start = bench_clock::now();
  const std::uint64_t count = count_primes(0, limit);
  return {seconds_between(start, bench_clock::now()), count};
}

primes_run procactor_workloads::pool_primes(std::uint64_t limit, int chunks, unsigned workers) {
  if (chunks <= 0 || workers == 0) throw std::invalid_argument("pool_primes: no chunks or no workers");
  // A name of its own: a pool's supervision group outlives it in the
  // runtime, and a second group of the same name is refused.
  procactor::PoolOptions options;
  options.name = "primes-" + std::to_string(impl_->spawned++);
  procactor::Pool pool(impl_->runtime, workers, options);
  // One tiny task per worker: every worker process is up before the clock
  // starts (submit goes to the least loaded worker, and each is idle).
  std::vector<procactor::Future<std::uint64_t>> warm;
  for (unsigned i = 0; i < workers; ++i) warm.push_back(pool.submit(count_primes, 0, 10));
  for (auto& future : warm) (void)future.get();

  const auto n = static_cast<std::uint64_t>(chunks);
  std::vector<std::tuple<std::uint64_t, std::uint64_t>> ranges;
  for (std::uint64_t i = 0; i < n; ++i) ranges.emplace_back(limit * i / n, limit * (i + 1) / n);
  const auto start = bench_clock::now();
  const auto counts = pool.map(count_primes, ranges);
  const auto stop = bench_clock::now();
  std::uint64_t total = 0;
  for (const auto count : counts) total += count;
  pool.close();
  return {seconds_between(start, stop), total};
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

// --callgrind's sending side: callgrind collects only while this function
// runs (--toggle-collect=*callgrind_send_ticks*), so its count is the sends
// alone, none of the runtime's background threads. Never inlined, or there
// would be nothing to toggle on.
[[gnu::noinline]] void callgrind_send_ticks(const procactor::ActorRef& ref, std::uint64_t messages) {
  for (std::uint64_t i = 0; i < messages; ++i) ref.send(Tick{i, 0x11111111, 0x22222222, 0x33333333});
}

void procactor_workloads::callgrind_stream_driver(std::uint64_t messages, const std::string& fifo) {
  procactor::SpawnOptions options;
  // Room for every Tick at once (a Tick's record is well under 128 bytes):
  // the sender must never find the lane full while the consumer is held.
  options.mailbox_capacity = std::max<std::size_t>(std::size_t{1} << 20, messages * 128);
  scoped_actor consumer(impl_->spawn<Counter>("callgrind-counter", options));
  const procactor::ActorRef& ref = consumer.ref();
  (void)ref.ask<Totals>(Flush{}, reply_timeout).get();
  const auto consumer_pid = ref.pid();
  if (!consumer_pid) throw std::runtime_error("the consumer actor has no pid");

  ref.send(Hold{fifo});
  callgrind_send_ticks(ref, messages);
  // Queued behind the Ticks before the consumer is let go, so that it finds
  // its next message waiting from the first Tick to the last.
  auto flushed = ref.ask<Totals>(Flush{}, reply_timeout);
  const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + fifo);
  ::close(fd);
  const Totals totals = flushed.get();
  if (totals.count != messages || totals.seq_sum != sum_of_seq(messages)) {
    throw std::runtime_error("the consumer actor lost or duplicated Ticks");
  }
  std::printf("sender_pid=%d consumer_pid=%d messages=%llu\n", static_cast<int>(::getpid()), *consumer_pid,
              static_cast<unsigned long long>(messages));
  std::fflush(stdout);
}

}  // namespace procactor_bench
