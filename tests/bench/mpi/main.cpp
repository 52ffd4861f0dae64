// procactor-mpi-bench: the MPI link (runtime/cluster/mpi_link.hpp) against
// raw MPI point-to-point between the same two ranks, in the same run, round
// by round, so each ratio compares figures taken seconds apart.
//
//   mpirun -n 2 --bind-to none --mca btl tcp,self build/bin/procactor-mpi-bench [--quick] [--json] [--gateway-spin]
//
// Workloads (rank 0 sends, rank 1 receives):
//   stream_32, stream_100  N messages of 32 / 100 payload bytes, timed from
//                          the first send to rank 1's acknowledgement of the
//                          last. Raw: MPI_Send / MPI_Recv one message each.
//                          Link: try_send frames (batched, under credit),
//                          rank 1 consumes each in its handler.
//   round_trip_32          ping-pong of 32 bytes, median of M round trips.
//                          Raw: MPI_Send / MPI_Recv. Link: a frame, echoed
//                          from rank 1's handler; both sides in wait() with
//                          a spin longer than a round trip.
//   idle_cpu               CPU time / wall time of a rank waiting with nothing
//                          to do: in a blocking MPI_Recv (Open MPI polls), and
//                          in mpi_link::wait (50 µs spin, then sleeps doubling
//                          from 50 µs to 1 ms; heartbeats go on).
// And the same workloads through the gateways (through_gateways.hpp): a
// driver actor on rank 0 sends to (or asks) a sink actor on rank 1, each
// rank a node supervisor whose gateway carries the messages over a link of
// its own; the idle figure is the whole node process's share of a core.
// Ratios are link / raw and gateway / raw, per round, then the median and
// range over rounds.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <procactor/runtime.hpp>

#include "../bench_config.hpp"
#include "../timing.hpp"
#include "cluster/mpi_link.hpp"
#include "through_gateways.hpp"

using namespace procactor::cluster;
using procactor_bench::bench_clock;
using procactor_bench::summarize;
using mpibench::cpu_seconds;

namespace {

struct config {
  bool quick = false;
  bool json = false;
  bool gateway_spin = false;
  int rounds = 3;
  int stream_messages = 400000;
  int round_trips = 5000;
  double idle_seconds = 2.0;
};

double seconds_since(bench_clock::time_point start) {
  return procactor_bench::seconds_between(start, bench_clock::now());
}

constexpr int raw_tag = 7;

// Raw MPI: N blocking sends, one acknowledgement at the end.
double raw_stream(MPI_Comm comm, int rank, int messages, int bytes) {
  std::vector<char> buffer(static_cast<std::size_t>(bytes), 'x');
  char ack = 0;
  MPI_Barrier(comm);
  const auto start = bench_clock::now();
  if (rank == 0) {
    for (int i = 0; i < messages; ++i) MPI_Send(buffer.data(), bytes, MPI_BYTE, 1, raw_tag, comm);
    MPI_Recv(&ack, 1, MPI_BYTE, 1, raw_tag, comm, MPI_STATUS_IGNORE);
  } else if (rank == 1) {
    for (int i = 0; i < messages; ++i) MPI_Recv(buffer.data(), bytes, MPI_BYTE, 0, raw_tag, comm, MPI_STATUS_IGNORE);
    MPI_Send(&ack, 1, MPI_BYTE, 0, raw_tag, comm);
  }
  return messages / seconds_since(start);
}

// Raw MPI ping-pong; the median round trip in µs.
double raw_round_trip(MPI_Comm comm, int rank, int trips, int bytes) {
  std::vector<char> buffer(static_cast<std::size_t>(bytes), 'x');
  std::vector<double> samples;
  MPI_Barrier(comm);
  for (int i = 0; i < trips; ++i) {
    if (rank == 0) {
      const auto start = bench_clock::now();
      MPI_Send(buffer.data(), bytes, MPI_BYTE, 1, raw_tag, comm);
      MPI_Recv(buffer.data(), bytes, MPI_BYTE, 1, raw_tag, comm, MPI_STATUS_IGNORE);
      samples.push_back(seconds_since(start) * 1e6);
    } else if (rank == 1) {
      MPI_Recv(buffer.data(), bytes, MPI_BYTE, 0, raw_tag, comm, MPI_STATUS_IGNORE);
      MPI_Send(buffer.data(), bytes, MPI_BYTE, 0, raw_tag, comm);
    }
  }
  return rank == 0 ? summarize(samples).median : 0.0;
}

constexpr auto spin = std::chrono::microseconds(200);
constexpr auto max_sleep = std::chrono::microseconds(1000);

// The link: N frames through try_send, rank 1 consuming in its handler and
// answering with a control message once it has them all.
double link_stream(mpi_link& link, MPI_Comm comm, int rank, int messages, int bytes) {
  std::vector<std::byte> payload(static_cast<std::size_t>(bytes), std::byte{'x'});
  int received = 0;
  bool acknowledged = false;
  link.on_data([&](int peer, const frame_header& h, std::span<const std::byte>) {
    ++received;
    link.consumed(peer, h.target, frame_cost(h.length));
  });
  link.on_control([&](int, std::span<const std::byte>) { acknowledged = true; });
  MPI_Barrier(comm);
  const auto start = bench_clock::now();
  if (rank == 0) {
    frame_header h;
    h.target = 1;
    for (int i = 0; i < messages; ++i) {
      h.correlation = static_cast<std::uint64_t>(i);
      while (!link.try_send(1, h, payload)) link.wait(spin, max_sleep);
    }
    link.flush();
    while (!acknowledged) link.wait(spin, max_sleep);
  } else if (rank == 1) {
    while (received < messages) link.wait(spin, max_sleep);
    const std::byte ok{1};
    link.send_control(0, std::span<const std::byte>(&ok, 1));
    link.flush();
  }
  return messages / seconds_since(start);
}

double link_round_trip(mpi_link& link, MPI_Comm comm, int rank, int trips, int bytes) {
  std::vector<std::byte> payload(static_cast<std::size_t>(bytes), std::byte{'x'});
  int received = 0;
  link.on_data([&](int peer, const frame_header& h, std::span<const std::byte> bytes_in) {
    ++received;
    link.consumed(peer, h.target, frame_cost(h.length));
    // The echo goes out at the end of this progress call.
    if (rank == 1 && !link.try_send(0, h, bytes_in)) throw std::logic_error("echo refused for credit");
  });
  std::vector<double> samples;
  MPI_Barrier(comm);
  frame_header h;
  h.target = 2;
  for (int i = 0; i < trips; ++i) {
    if (rank == 0) {
      const auto start = bench_clock::now();
      h.correlation = static_cast<std::uint64_t>(i);
      if (!link.try_send(1, h, payload)) throw std::logic_error("ping refused for credit");
      link.flush();
      while (received <= i) link.wait(spin, max_sleep);
      samples.push_back(seconds_since(start) * 1e6);
    } else if (rank == 1) {
      while (received <= i) link.wait(spin, max_sleep);
    }
  }
  return rank == 0 ? summarize(samples).median : 0.0;
}

// CPU share of rank 1 while it waits idle for rank 0's single message.
double raw_idle_cpu(MPI_Comm comm, int rank, double seconds) {
  char byte = 0;
  MPI_Barrier(comm);
  const auto start = bench_clock::now();
  const double cpu = cpu_seconds();
  if (rank == 0) {
    while (seconds_since(start) < seconds) {
      timespec pause{0, 10'000'000};
      nanosleep(&pause, nullptr);
    }
    MPI_Send(&byte, 1, MPI_BYTE, 1, raw_tag, comm);
  } else if (rank == 1) {
    MPI_Recv(&byte, 1, MPI_BYTE, 0, raw_tag, comm, MPI_STATUS_IGNORE);
  }
  return (cpu_seconds() - cpu) / seconds_since(start);
}

double link_idle_cpu(mpi_link& link, MPI_Comm comm, double seconds) {
  link.on_data([](int, const frame_header&, std::span<const std::byte>) {});
  MPI_Barrier(comm);
  const auto start = bench_clock::now();
  const double cpu = cpu_seconds();
  const auto wakeups = link.counters().idle_wakeups;
  while (seconds_since(start) < seconds) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::duration<double>(seconds - seconds_since(start)));
    link.wait(std::chrono::microseconds(50), max_sleep, std::max(left, std::chrono::microseconds(1)));
  }
  const double share = (cpu_seconds() - cpu) / seconds_since(start);
  if (link.rank() == 0) {
    std::fprintf(stderr, "link idle: %llu wake-ups in %.1f s\n",
                 static_cast<unsigned long long>(link.counters().idle_wakeups - wakeups), seconds);
  }
  return share;
}

struct workload {
  std::string name;
  std::string unit;
  std::string better;  // "higher" or "lower"
  std::vector<double> raw{};
  std::vector<double> link{};
  std::vector<double> ratio{};  // link / raw, per round
  std::vector<double> gateway{};
  std::vector<double> gateway_ratio{};  // gateway / raw, per round
};

void print_table(const std::vector<workload>& workloads, const config& cfg) {
  std::printf("procactor-mpi-bench: 2 ranks, %d rounds%s%s; median (min - max) over rounds\n", cfg.rounds,
              cfg.quick ? ", quick" : "", cfg.gateway_spin ? ", gateways spinning" : "");
  std::printf("%-14s %-6s %28s %28s %28s %22s %22s\n", "workload", "unit", "raw MPI", "mpi_link", "gateways",
              "link / raw", "gateways / raw");
  const auto text = [](const std::vector<double>& values, const char* format) {
    const auto v = summarize(values);
    char out[96];
    std::snprintf(out, sizeof out, format, v.median, v.min, v.max);
    return std::string(out);
  };
  for (const auto& w : workloads) {
    const char* figure = "%.4g (%.4g - %.4g)";
    const char* ratio = "%.3f (%.3f - %.3f)";
    std::printf("%-14s %-6s %28s %28s %28s %22s %22s\n", w.name.c_str(), w.unit.c_str(), text(w.raw, figure).c_str(),
                text(w.link, figure).c_str(), text(w.gateway, figure).c_str(), text(w.ratio, ratio).c_str(),
                text(w.gateway_ratio, ratio).c_str());
  }
}

void print_json_array(const std::vector<double>& values) {
  std::printf("[");
  for (std::size_t i = 0; i < values.size(); ++i) std::printf("%s%.6g", i == 0 ? "" : ", ", values[i]);
  std::printf("]");
}

void print_json(const std::vector<workload>& workloads, const config& cfg, const link_counters& counters) {
  std::printf("{\"ranks\": 2, \"quick\": %s, \"gateway_spin\": %s, \"rounds\": %d, \"stream_messages\": %d, "
              "\"round_trips\": %d",
              cfg.quick ? "true" : "false", cfg.gateway_spin ? "true" : "false", cfg.rounds, cfg.stream_messages,
              cfg.round_trips);
  for (const auto& w : workloads) {
    std::printf(", \"%s\": {\"unit\": \"%s\", \"better\": \"%s\"", w.name.c_str(), w.unit.c_str(), w.better.c_str());
    const std::pair<const char*, const std::vector<double>*> columns[] = {
        {"raw_mpi", &w.raw}, {"link", &w.link}, {"ratio", &w.ratio},
        {"gateway", &w.gateway}, {"gateway_ratio", &w.gateway_ratio}};
    for (const auto& [name, values] : columns) {
      const auto v = summarize(*values);
      std::printf(", \"%s\": %.6g, \"%s_min\": %.6g, \"%s_max\": %.6g", name, v.median, name, v.min, name, v.max);
    }
    std::printf(", \"per_round\": {");
    for (std::size_t i = 0; i < std::size(columns); ++i) {
      std::printf("%s\"%s\": ", i == 0 ? "" : ", ", columns[i].first);
      print_json_array(*columns[i].second);
    }
    std::printf("}}");
  }
  std::printf(
      ", \"link_counters_rank0\": {\"frames_sent\": %llu, \"batches_sent\": %llu, \"credit_stalls\": %llu, "
      "\"heartbeats_sent\": %llu, \"idle_wakeups\": %llu}}\n",
      static_cast<unsigned long long>(counters.frames_sent), static_cast<unsigned long long>(counters.batches_sent),
      static_cast<unsigned long long>(counters.credit_stalls),
      static_cast<unsigned long long>(counters.heartbeats_sent),
      static_cast<unsigned long long>(counters.idle_wakeups));
}

}  // namespace

int main(int argc, char** argv) {
  // The node supervisor's Runtime comes before MPI, as in `procactor node`:
  // its actors are forked from a process that never saw MPI.
  procactor::Runtime::run_if_child();
  procactor::Options options;
  options.log_events = false;
  options.max_actors = 4;
  options.arena_size = std::size_t{256} << 20;
  procactor::Runtime rt(argc, argv, options);
  environment env(argc, argv);
  config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      cfg.quick = true;
      cfg.stream_messages = 100000;
      cfg.round_trips = 1000;
      cfg.idle_seconds = 1.0;
    } else if (arg == "--json") {
      cfg.json = true;
    } else if (arg == "--gateway-spin") {
      cfg.gateway_spin = true;
    } else {
      if (env.rank() == 0) {
        std::fprintf(stderr, "usage: mpirun -n 2 procactor-mpi-bench [--quick] [--json] [--gateway-spin]\n");
      }
      return 2;
    }
  }
  if (env.size() != 2) {
    if (env.rank() == 0) std::fprintf(stderr, "procactor-mpi-bench runs on exactly 2 ranks (mpirun -n 2)\n");
    return 2;
  }
  const int rank = env.rank();
  MPI_Comm raw;
  MPI_Comm_dup(MPI_COMM_WORLD, &raw);
  mpi_link link(env);
  mpibench::through_gateways gateways(rt, env, cfg.gateway_spin);

  std::vector<workload> workloads = {{.name = "stream_32", .unit = "msg/s", .better = "higher"},
                                     {.name = "stream_100", .unit = "msg/s", .better = "higher"},
                                     {.name = "round_trip_32", .unit = "us", .better = "lower"},
                                     {.name = "idle_cpu", .unit = "share", .better = "lower"}};
  // One untimed warm-up of each, so connections exist and buffers are grown.
  raw_stream(raw, rank, cfg.stream_messages / 10, 32);
  link_stream(link, raw, rank, cfg.stream_messages / 10, 32);
  raw_round_trip(raw, rank, 100, 32);
  link_round_trip(link, raw, rank, 100, 32);
  for (int round = 0; round < cfg.rounds; ++round) {
    const mpibench::gateway_figures through = gateways.round(round, cfg.stream_messages, cfg.round_trips,
                                                             cfg.idle_seconds);
    double gateway_figure[4] = {through.stream_32, through.stream_100, through.round_trip_32, through.idle_cpu};
    const auto add = [&](workload& w, double raw_figure, double link_figure) {
      w.raw.push_back(raw_figure);
      w.link.push_back(link_figure);
      w.ratio.push_back(link_figure / raw_figure);
      const double g = gateway_figure[&w - workloads.data()];
      w.gateway.push_back(g);
      w.gateway_ratio.push_back(g / raw_figure);
    };
    for (int which = 0; which < 2; ++which) {
      const int bytes = which == 0 ? 32 : 100;
      const double r = raw_stream(raw, rank, cfg.stream_messages, bytes);
      const double l = link_stream(link, raw, rank, cfg.stream_messages, bytes);
      add(workloads[static_cast<std::size_t>(which)], r, l);
    }
    const double r = raw_round_trip(raw, rank, cfg.round_trips, 32);
    const double l = link_round_trip(link, raw, rank, cfg.round_trips, 32);
    add(workloads[2], r, l);
    // The waiting side is rank 1; its figures come to rank 0 to report.
    double idle[3] = {raw_idle_cpu(raw, rank, cfg.idle_seconds), link_idle_cpu(link, raw, cfg.idle_seconds),
                      through.idle_cpu};
    if (rank == 1) MPI_Send(idle, 3, MPI_DOUBLE, 0, raw_tag, raw);
    if (rank == 0) MPI_Recv(idle, 3, MPI_DOUBLE, 1, raw_tag, raw, MPI_STATUS_IGNORE);
    gateway_figure[3] = idle[2];
    add(workloads[3], idle[0], idle[1]);
  }
  link.on_data([](int, const frame_header&, std::span<const std::byte>) {});
  link.close();
  gateways.close();
  MPI_Comm_free(&raw);
  if (rank == 0) {
    if (cfg.json) {
      print_json(workloads, cfg, link.counters());
    } else {
      print_table(workloads, cfg);
    }
  }
  return 0;
}
