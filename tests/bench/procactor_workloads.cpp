// The procactor side of the benchmark: actors and a pool in other processes,
// driven from the benchmark's main process through the public API only.
#include "procactor_workloads.hpp"

#include <procactor/procactor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
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

}  // namespace procactor_bench

// Registered before the actors that handle them: Actor<> checks that every
// message type it lists is registered.
PROCACTOR_MESSAGE(procactor_bench::Tick);
PROCACTOR_MESSAGE(procactor_bench::Flush);
PROCACTOR_MESSAGE(procactor_bench::Totals);
PROCACTOR_MESSAGE(procactor_bench::Ping);
PROCACTOR_MESSAGE(procactor_bench::Pong);

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
  procactor::ActorRef spawn(const char* role) {
    return runtime.spawn<A>(std::string(role) + "-" + std::to_string(spawned++));
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

}  // namespace procactor_bench
