// procactor-bench: procactor against Boost message_queue and Python
// multiprocessing, side by side, in one run on one machine; the
// `procactor launch` path (a primes graph against one process, and the time
// until 64 actors are ready); and how fast a killed actor is back.
//
//   procactor-bench            table on stdout, a few minutes at most
//   procactor-bench --quick    smaller counts, under 60 s on 2 vCPUs
//   procactor-bench --json     exactly one JSON object on stdout
//
// Progress goes to stderr when it is a terminal; stdout carries only results.
#include <unistd.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "bench_config.hpp"
#include "boost_mq.hpp"
#include "fork_exec_restart.hpp"
#include "launcher_workloads.hpp"
#include "procactor_workloads.hpp"
#include "python_baseline.hpp"
#include "report.hpp"
#include "shm_cleanup.hpp"
#include "timing.hpp"

namespace procactor_bench {
namespace {

struct options {
  bool json = false;
  bool quick = false;
  bool help = false;
};

constexpr const char* usage =
    "usage: procactor-bench [--quick] [--json] [--help]\n"
    "  --quick  smaller counts: the whole run takes under a minute on 2 CPUs\n"
    "  --json   print exactly one JSON object (figures, baselines, ratios)\n";

std::optional<options> parse_options(int argc, char** argv) {
  options parsed;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--json") {
      parsed.json = true;
    } else if (arg == "--help" || arg == "-h") {
      parsed.help = true;
    } else if (arg == "--quick") {
      parsed.quick = true;
    } else {
      return std::nullopt;
    }
  }
  return parsed;
}

class bench_run {
 public:
  bench_run(const bench_config& config, procactor_workloads* procactor, bench_report& report)
      : config_(config), procactor_(procactor), report_(report),
        progress_(::isatty(STDERR_FILENO) == 1) {}

  workload_report stream(const python_results& python) {
    workload_report w{"stream", "msg/s", true, {}, {}, {}, {}};
    w.procactor = figure("procactor stream",
                         [&] { return procactor().stream_msg_per_s(config_.stream).median; });
    w.baselines.push_back({"boost_mq_blocking", figure("Boost message_queue stream (blocking)", [&] {
                             return boost_mq_stream_msg_per_s(config_.stream, mq_wait::blocking,
                                                              config_.boost_queue_capacity)
                                 .median;
                           })});
    w.baselines.push_back({"boost_mq_spin", figure("Boost message_queue stream (spin)", [&] {
                             return boost_mq_stream_msg_per_s(config_.stream, mq_wait::spin,
                                                              config_.boost_queue_capacity)
                                 .median;
                           })});
    w.baselines.push_back({"python_queue", python.queue_stream_msg_s});
    w.details = {{"target_run_s", config_.stream.target_run_seconds},
                 {"runs", static_cast<double>(config_.stream.runs)},
                 {"procactor_lane_capacity_bytes", lane_capacity()},
                 {"boost_mq_message_bytes", static_cast<double>(boost_mq_message_bytes)},
                 {"boost_mq_capacity", static_cast<double>(config_.boost_queue_capacity)},
                 {"python_message_bytes", python.queue_message_bytes}};
    w.goals = {{"boost_mq_blocking", true, 2.0}, {"python_queue", true, 50.0}};
    return w;
  }

  workload_report round_trip_hot(const python_results& python) {
    const auto& params = config_.round_trip_hot;
    workload_report w{"round_trip_hot", "us", false, {}, {}, {}, {}};
    w.procactor = figure("procactor hot round trip",
                         [&] { return procactor().round_trip_us(params).median; });
    w.baselines.push_back({"boost_mq_blocking", figure("Boost message_queue round trip (blocking)", [&] {
                             return boost_mq_round_trip_us(params, mq_wait::blocking,
                                                           config_.boost_queue_capacity)
                                 .median;
                           })});
    w.baselines.push_back({"boost_mq_spin", figure("Boost message_queue round trip (spin)", [&] {
                             return boost_mq_round_trip_us(params, mq_wait::spin,
                                                           config_.boost_queue_capacity)
                                 .median;
                           })});
    w.baselines.push_back({"python_pipe", python.pipe_round_trip_us});
    w.details = {{"samples", static_cast<double>(params.samples)},
                 {"python_samples", static_cast<double>(config_.python_round_trip_hot.samples)}};
    w.goals = {{"boost_mq_blocking", false, 1.0 / 20.0}};
    return w;
  }

  workload_report round_trip_parked(const python_results& python) {
    const auto& params = config_.round_trip_parked;
    workload_report w{"round_trip_parked", "us", false, {}, {}, {}, {}};
    w.procactor = figure("procactor parked round trip",
                         [&] { return procactor().round_trip_us(params).median; });
    w.baselines.push_back(
        {"boost_mq_blocking", figure("Boost message_queue round trip (blocking, paused)", [&] {
           return boost_mq_round_trip_us(params, mq_wait::blocking, config_.boost_queue_capacity)
               .median;
         })});
    w.baselines.push_back({"python_pipe", python.pipe_round_trip_parked_us});
    w.details = {{"samples", static_cast<double>(params.samples)},
                 {"pause_us", static_cast<double>(params.pause.count())}};
    w.goals = {{"boost_mq_blocking", false, 1.2}};
    return w;
  }

  workload_report primes() {
    workload_report w{"primes", "x", true, {}, {}, {}, {}};
    std::optional<primes_result> result;
    w.procactor = figure("procactor primes speedup", [&] {
      result = procactor().primes(config_.primes);
      return result->speedup;
    });
    // "speedup at least 0.9 x cores": the baseline is a perfectly linear
    // speedup, so ratio_vs_linear_speedup is the parallel efficiency.
    w.baselines.push_back({"linear_speedup", static_cast<double>(report_.machine.cpus)});
    w.details = {{"limit", static_cast<double>(config_.primes.limit)}};
    if (result) {
      w.details.push_back({"workers", static_cast<double>(result->workers)});
      w.details.push_back({"serial_s", result->serial_s.median});
      w.details.push_back({"parallel_s", result->parallel_s.median});
    }
    w.goals = {{"linear_speedup", true, 0.9}};
    return w;
  }

  // The primes graph through `procactor launch`, start-up and shutdown of
  // every process included, against the same count in this process.
  workload_report primes_graph() {
    workload_report w{"primes_graph", "x", true, {}, {}, {}, {}};
    std::optional<primes_graph_result> result;
    w.procactor = figure("procactor launch primes graph speedup", [&] {
      result = run_primes_graph(config_.primes_graph, launcher());
      return result->speedup;
    });
    w.baselines.push_back({"linear_speedup", static_cast<double>(report_.machine.cpus)});
    w.details = {{"limit", static_cast<double>(config_.primes_graph.limit)},
                 {"chunk", static_cast<double>(config_.primes_graph.chunk)}};
    if (result) {
      w.details.push_back({"workers", static_cast<double>(result->cores)});
      w.details.push_back({"total", static_cast<double>(result->total)});
      w.details.push_back({"serial_s", result->serial_s});
      w.details.push_back({"graph_s", result->graph_s});
      w.details.push_back({"launcher_reported_s", result->launcher_reported_s});
    }
    w.goals = {{"linear_speedup", true, 0.9}};
    return w;
  }

  // From `procactor launch` to every one of 64 actors out of `starting`, as
  // the launcher reports it; the whole launch's wall time alongside.
  workload_report launch_ready() {
    const auto& params = config_.launch_ready;
    workload_report w{"launch_ready_" + std::to_string(params.actors), "ms", false, {}, {}, {}, {}};
    std::optional<launch_ready_result> result;
    w.procactor = figure("procactor launch of " + std::to_string(params.actors) + " actors", [&] {
      result = run_launch_ready(params, launcher());
      return result->ready_ms.median;
    });
    w.details = {{"actors", static_cast<double>(params.actors)},
                 {"runs", static_cast<double>(params.runs)}};
    if (result) {
      w.details.push_back({"ready_ms_min", result->ready_ms.min});
      w.details.push_back({"ready_ms_max", result->ready_ms.max});
      w.details.push_back({"launch_wall_ms", result->wall_ms.median});
      w.details.push_back({"launch_wall_ms_min", result->wall_ms.min});
      w.details.push_back({"launch_wall_ms_max", result->wall_ms.max});
    }
    w.goals = {{"", false, 100.0}};
    return w;
  }

  // From kill -9 of a busy worker to its replacement's first answer, against
  // Python's ProcessPoolExecutor rebuilt after the same kill and a bare
  // restart of this binary (fork+exec, and posix_spawn as procactor does).
  workload_report restart_latency() {
    const auto& params = config_.restart;
    workload_report w{"restart_latency", "ms", false, {}, {}, {}, {}};
    std::optional<restart_result> result;
    w.procactor = figure("procactor restart after kill -9", [&] {
      result = procactor().restart_latency_ms(params);
      return result->latency_ms.median;
    });
    say("Python ProcessPoolExecutor restart after kill -9");
    const auto python = run_python_pool_restart(params);
    if (!python.note.empty()) report_.notes.push_back(python.note);
    if (python.latency_ms) {
      report_.notes.push_back("restart_latency: python_pool is Python " + python.python_version +
                              " (/usr/bin/python3) concurrent.futures.ProcessPoolExecutor, start method " +
                              python.start_method +
                              ": kill -> BrokenProcessPool -> new pool -> one task done");
    }
    std::optional<summary> fork_exec;
    std::optional<summary> spawn_exec;
    w.baselines.push_back({"python_pool", python.latency_ms ? std::optional(python.latency_ms->median)
                                                            : std::nullopt});
    w.baselines.push_back({"fork_exec", figure("bare fork+exec restart after kill -9", [&] {
                             fork_exec = bare_restart_ms(params, bare_start::fork_exec);
                             return fork_exec->median;
                           })});
    w.baselines.push_back({"posix_spawn", figure("bare posix_spawn restart after kill -9", [&] {
                             spawn_exec = bare_restart_ms(params, bare_start::posix_spawn);
                             return spawn_exec->median;
                           })});
    w.details = {{"kills", static_cast<double>(params.kills)},
                 {"warmup_kills", static_cast<double>(params.warmups)}};
    const auto add_spread = [&](const std::string& who, const std::optional<summary>& s) {
      w.details.push_back({who + "_p90_ms", s ? std::optional(s->p90) : std::nullopt});
      w.details.push_back({who + "_p99_ms", s ? std::optional(s->p99) : std::nullopt});
      w.details.push_back({who + "_max_ms", s ? std::optional(s->max) : std::nullopt});
      w.details.push_back({who + "_min_ms", s ? std::optional(s->min) : std::nullopt});
    };
    add_spread("procactor", result ? std::optional(result->latency_ms) : std::nullopt);
    add_spread("python_pool", python.latency_ms);
    add_spread("fork_exec", fork_exec);
    add_spread("posix_spawn", spawn_exec);
    // The ratio, python / procactor: how many times faster procactor
    // is back (higher is better); ratio_vs_python_pool is its inverse.
    const auto inverse = w.ratio_vs("python_pool");
    w.details.push_back({"python_pool_over_procactor",
                         inverse && *inverse > 0 ? std::optional(1.0 / *inverse) : std::nullopt});
    if (result) {
      w.details.push_back({"probes", static_cast<double>(result->probes)});
      w.details.push_back({"probe_timeouts", static_cast<double>(result->probe_timeouts)});
      w.details.push_back({"probe_errors", static_cast<double>(result->probe_errors)});
      w.details.push_back({"stale_answers", static_cast<double>(result->stale_answers)});
    }
    w.details.push_back({"probe_timeout_ms", static_cast<double>(params.probe_timeout.count())});
    w.details.push_back({"busy_asks_per_kill", static_cast<double>(params.busy_asks)});
    // Median <= 1.5 ms, p99 <= 5 ms, and python / procactor >= 10, which in
    // this report's direction (procactor / baseline, lower is better) is
    // ratio_vs_python_pool <= 0.1.
    w.goals = {{"", false, 1.5}, {"", false, 5.0, "procactor_p99_ms"}, {"python_pool", false, 0.1}};
    return w;
  }

  python_results python() {
    say("Python multiprocessing baselines");
    auto results = run_python_baseline(config_.stream, config_.python_round_trip_hot,
                                       config_.python_round_trip_parked);
    if (!results.note.empty()) report_.notes.push_back(results.note);
    return results;
  }

 private:
  // Looked up once; a missing executable or plugin throws again on each call,
  // so both workloads say why they are null.
  const launcher_paths& launcher() {
    if (!launcher_) launcher_ = locate_launcher();
    return *launcher_;
  }

  procactor_workloads& procactor() {
    if (procactor_ == nullptr) throw std::runtime_error("the procactor runtime did not start");
    return *procactor_;
  }

  std::optional<double> lane_capacity() const {
    if (procactor_ == nullptr) return std::nullopt;
    return static_cast<double>(procactor_->lane_capacity_bytes());
  }

  void say(const std::string& what) const {
    if (progress_) std::cerr << "procactor-bench: " << what << "...\n";
  }

  // Runs one measurement; a failure becomes a null figure and a note, so
  // that one broken contender does not hide everyone else's figures.
  std::optional<double> figure(const std::string& what, const std::function<double()>& measure) {
    say(what);
    try {
      return measure();
    } catch (const std::exception& e) {
      report_.notes.push_back(what + " not measured: " + e.what());
      return std::nullopt;
    }
  }

  const bench_config& config_;
  procactor_workloads* procactor_;
  bench_report& report_;
  bool progress_;
  std::optional<launcher_paths> launcher_;
};

}  // namespace
}  // namespace procactor_bench

int main(int argc, char** argv) {
  using namespace procactor_bench;
  // The Boost children and the fork+exec restart child are exec'd by us with
  // --child, never by the runtime (which selects its child mode through the
  // environment), and they must not start a runtime of their own.
  if (is_restart_ping_child(argc, argv)) return restart_ping_child_main(argc, argv);
  if (is_boost_mq_child(argc, argv)) return boost_mq_child_main(argc, argv);

  const auto started = bench_clock::now();
  // Before anything else: in a process the runtime started as an actor host,
  // this never returns.
  std::optional<procactor_workloads> procactor;
  std::string procactor_error;
  try {
    procactor.emplace(argc, argv);
  } catch (const std::exception& e) {
    procactor_error = e.what();
  }

  const auto opts = parse_options(argc, argv);
  if (!opts) {
    std::cerr << usage;
    return 2;
  }
  if (opts->help) {
    std::cout << usage;
    return 0;
  }

  bench_report report;
  report.machine = detect_machine();
  report.quick = opts->quick;
  if (!procactor_error.empty()) {
    report.notes.push_back("procactor runtime did not start: " + procactor_error);
  }
  if (const int swept = sweep_stale_shm(); swept > 0) {
    report.notes.push_back("removed " + std::to_string(swept) +
                           " queue(s) left in /dev/shm by an earlier, killed run");
  }
  if (const int swept = sweep_stale_temp_dirs(); swept > 0) {
    report.notes.push_back("removed " + std::to_string(swept) +
                           " temporary graph folder(s) left by an earlier, killed run");
  }

  const auto config = bench_config::make(opts->quick);
  {
    const scoped_shm_signal_cleanup cleanup;
    bench_run run(config, procactor ? &*procactor : nullptr, report);
    const python_results python = run.python();
    if (!python.python_version.empty()) {
      report.notes.push_back("Python " + python.python_version +
                             " multiprocessing, start method spawn");
    }
    report.workloads.push_back(run.stream(python));
    report.workloads.push_back(run.round_trip_hot(python));
    report.workloads.push_back(run.round_trip_parked(python));
    report.workloads.push_back(run.primes());
    report.workloads.push_back(run.primes_graph());
    report.workloads.push_back(run.launch_ready());
    report.workloads.push_back(run.restart_latency());
  }
  report.elapsed_s = seconds_between(started, bench_clock::now());
  report.machine.load_after = load_average_1m();

  if (opts->json) {
    write_json(std::cout, report);
  } else {
    write_table(std::cout, report);
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}
