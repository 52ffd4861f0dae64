#include "through_gateways.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include <procactor/procactor.hpp>

#include "../bench_config.hpp"
#include "../timing.hpp"
#include "cluster/gateway.hpp"

namespace mpibench {

// Payloads of exactly 32 and 100 bytes once encoded (cereal writes an array
// of chars as its bytes), as raw MPI sends them.
struct Small32 {
  std::array<char, 32> bytes{};
  template <class Archive>
  void serialize(Archive& archive) {
    archive(bytes);
  }
};
struct Small100 {
  std::array<char, 100> bytes{};
  template <class Archive>
  void serialize(Archive& archive) {
    archive(bytes);
  }
};
struct Count {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Go {
  int round = 0;
  int stream_messages = 0;
  int round_trips = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(round, stream_messages, round_trips);
  }
};

}  // namespace mpibench

PROCACTOR_MESSAGE(mpibench::Small32);
PROCACTOR_MESSAGE(mpibench::Small100);
PROCACTOR_MESSAGE(mpibench::Count);
PROCACTOR_MESSAGE(mpibench::Go);

namespace mpibench {

using procactor_bench::bench_clock;

// Counts what it gets; answers a Count with the total, and an asked
// Small32 with itself (the round trip).
class Sink : public procactor::Actor<Sink, Small32, Small100, Count> {
 public:
  Small32 on(const Small32& message) {
    ++count_;
    return message;
  }
  void on(const Small100&) { ++count_; }
  std::uint64_t on(const Count&) { return count_; }

 private:
  std::uint64_t count_ = 0;
};

// On Go: the workloads against the sink on the other node, each figure
// printed as a line `gw ROUND NAME VALUE` for the bench to read.
class Driver : public procactor::Actor<Driver, Go> {
 public:
  void on(const Go& go) {
    const procactor::ActorRef sink = find("sink");
    const auto say = [&](const char* name, double value) {
      std::cout << "gw " << go.round << ' ' << name << ' ' << value << std::endl;
    };
    const auto stream = [&](const auto& message, const char* name) {
      const auto before = sink.ask<std::uint64_t>(Count{}, std::chrono::seconds(60)).get();
      const auto start = bench_clock::now();
      for (int i = 0; i < go.stream_messages; ++i) sink.send(message);
      // Per-sender FIFO: this ask arrives behind every message sent.
      const auto after = sink.ask<std::uint64_t>(Count{}, std::chrono::seconds(60)).get();
      const double seconds = procactor_bench::seconds_between(start, bench_clock::now());
      if (after - before != static_cast<std::uint64_t>(go.stream_messages)) {
        std::cout << "gw " << go.round << " lost " << go.stream_messages - static_cast<int>(after - before)
                  << std::endl;
      }
      say(name, go.stream_messages / seconds);
    };
    stream(Small32{}, "stream_32");
    stream(Small100{}, "stream_100");
    std::vector<double> samples;
    for (int i = 0; i < go.round_trips; ++i) {
      const auto start = bench_clock::now();
      (void)sink.ask<Small32>(Small32{}, std::chrono::seconds(60)).get();
      samples.push_back(procactor_bench::seconds_between(start, bench_clock::now()) * 1e6);
    }
    say("round_trip_32", procactor_bench::summarize(samples).median);
    say("done", 0);
  }
};

}  // namespace mpibench

PROCACTOR_ACTOR(mpibench::Sink);
PROCACTOR_ACTOR(mpibench::Driver);

namespace mpibench {

struct through_gateways::impl {
  procactor::Runtime& rt;
  int rank;
  procactor::cluster::mpi_link link;
  std::unique_ptr<procactor::cluster::gateway> gateway;
  procactor::ActorRef driver;
  std::mutex mutex;
  std::map<std::string, double> figures;  // this round's, from the driver's lines
  bool round_done = false;                 // rank 0: the driver said done
  std::atomic<bool> peer_done{false};      // rank 1: rank 0 said the round is over

  impl(procactor::Runtime& runtime, procactor::cluster::environment& env) : rt(runtime), rank(env.rank()), link(env) {}

  // Turns the gateway until `done`, idling as a node's gateway does.
  template <class Done>
  void turn_until(Done done) {
    while (!done()) gateway->turn();
  }
};

through_gateways::through_gateways(procactor::Runtime& rt, procactor::cluster::environment& env, bool spin)
    : impl_(std::make_unique<impl>(rt, env)) {
  impl& s = *impl_;
  rt.capture_output([this](const procactor::OutputLine& line) {
    std::istringstream words(line.text);
    std::string gw, name;
    int round = 0;
    double value = 0;
    if (!(words >> gw >> round >> name >> value) || gw != "gw") return;
    std::lock_guard guard(impl_->mutex);
    if (name == "done") {
      impl_->round_done = true;
    } else {
      impl_->figures[name] = value;
    }
  });
  // The same slot table on both nodes: 1 driver (rank 0), 2 sink (rank 1).
  if (s.rank == 0) {
    s.driver = rt.spawn("mpibench.Driver", "driver");
    rt.remote("mpibench.Sink", "sink");
  } else {
    rt.remote("mpibench.Driver", "driver");
    rt.spawn("mpibench.Sink", "sink");
  }
  procactor::cluster::gateway_hooks hooks;
  hooks.control = [this](int, const std::string& text) {
    if (text == "round over") impl_->peer_done = true;
  };
  s.gateway = std::make_unique<procactor::cluster::gateway>(s.link, std::vector<int>{s.rank, 0, 1},
                                                            std::vector<std::string>{"[supervisor]", "driver", "sink"},
                                                            std::move(hooks), [spin] {
                                                              procactor::cluster::idle_policy idle;
                                                              if (spin) idle.spin = std::chrono::microseconds::max();
                                                              return idle;
                                                            }());
}

through_gateways::~through_gateways() = default;

gateway_figures through_gateways::round(int round, int stream_messages, int round_trips, double idle_seconds) {
  impl& s = *impl_;
  gateway_figures result;
  if (s.rank == 0) {
    {
      std::lock_guard guard(s.mutex);
      s.round_done = false;
      s.figures.clear();
    }
    s.driver.send(Go{round, stream_messages, round_trips});
    s.turn_until([&] {
      std::lock_guard guard(s.mutex);
      return s.round_done;
    });
    s.gateway->broadcast("round over");
    s.gateway->poll();
    std::lock_guard guard(s.mutex);
    result.stream_32 = s.figures["stream_32"];
    result.stream_100 = s.figures["stream_100"];
    result.round_trip_32 = s.figures["round_trip_32"];
    if (s.figures.contains("lost")) std::cerr << "through the gateways: messages were lost\n";
  } else {
    s.turn_until([&] { return s.peer_done.exchange(false); });
  }
  // Idle: both nodes turn their gateways with nothing to carry; the share
  // of a core their whole node process takes (the caller sends rank 1's).
  const auto start = bench_clock::now();
  const double cpu = cpu_seconds();
  s.turn_until([&] { return procactor_bench::seconds_between(start, bench_clock::now()) >= idle_seconds; });
  result.idle_cpu = (cpu_seconds() - cpu) / procactor_bench::seconds_between(start, bench_clock::now());
  return result;
}

void through_gateways::close() {
  impl_->gateway->finish();
  impl_->gateway->run();
}

}  // namespace mpibench
