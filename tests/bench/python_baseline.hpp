// Baselines: Python multiprocessing (Queue stream, Queue pipeline, Pipe round
// trip), measured by mp_baseline.py in a python3 subprocess during the same
// run; and the
// restart of a concurrent.futures.ProcessPoolExecutor after kill -9 of its
// worker, by pool_restart_baseline.py under /usr/bin/python3.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "bench_config.hpp"
#include "timing.hpp"

namespace procactor_bench {

// One figure of mp_baseline.py, from one run of the script (procactor-bench
// runs it once per round, between its own runs).
struct python_figure {
  std::optional<double> value;  // msg/s, or the median µs of a round trip
  std::optional<double> p90;    // round trips: the 90th percentile, µs
  std::optional<double> message_bytes;  // the pickled size of one message
  std::string python_version;
  // Why the figure is missing (no python3, no script, the script failed);
  // empty when it was measured.
  std::string note;
};

// Each never throws: a baseline that cannot run is reported as null with a
// note. A Queue stream, one producer (the script) to one consumer process.
python_figure run_python_stream(const stream_params& stream);
// A chain of Queues: the script, `middles` forwarding processes, a consumer.
python_figure run_python_pipeline(const stream_params& stream, int middles);
// A fan-in: `senders` producer processes into one Queue and one consumer.
python_figure run_python_senders(const stream_params& stream, int senders);
// Pipe ping-pong; round_trip.pause > 0 gives the parked variant.
python_figure run_python_round_trip(const round_trip_params& round_trip);

struct python_pool_restart_results {
  std::optional<summary> latency_ms;  // kill -> a new pool has run one task
  std::string python_version;
  std::string start_method;  // the pool's multiprocessing start method
  std::string note;          // why latency_ms is missing
};

// Never throws, as run_python_baseline. params.kills timed kills after
// params.warmups untimed ones.
python_pool_restart_results run_python_pool_restart(const restart_params& params);

// A script of the bench (`name`): next to the executable (CMake copies it
// into build/bin), else `source_path`. Empty when neither exists.
std::string locate_script(const char* name, const char* source_path);
// The baselines' scripts, found so.
std::string locate_mp_script();
std::string locate_pool_restart_script();

// A flat JSON object: string keys, values that are numbers, strings, booleans
// or null. Enough for the script's output; nested values are rejected.
using flat_json_value = std::variant<std::monostate, double, std::string, bool>;
std::optional<std::map<std::string, flat_json_value>> parse_flat_json_object(std::string_view text);

}  // namespace procactor_bench
