// Baseline: Python multiprocessing (Queue stream, Pipe round trip), measured
// by mp_baseline.py in a python3 subprocess during the same run.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "bench_config.hpp"

namespace procactor_bench {

struct python_results {
  std::optional<double> queue_stream_msg_s;
  std::optional<double> pipe_round_trip_us;
  std::optional<double> pipe_round_trip_parked_us;
  std::optional<double> queue_message_bytes;
  std::string python_version;
  // Why figures are missing (no python3, no script, the script failed); empty
  // when all were measured.
  std::string note;
};

// Never throws: a baseline that cannot run is reported as null with a note.
python_results run_python_baseline(const stream_params& stream,
                                   const round_trip_params& hot,
                                   const round_trip_params& parked);

// The script: next to the executable (CMake copies it into build/bin), else
// the source path compiled in. Empty when neither exists.
std::string locate_mp_script();

// A flat JSON object: string keys, values that are numbers, strings, booleans
// or null. Enough for the script's output; nested values are rejected.
using flat_json_value = std::variant<std::monostate, double, std::string, bool>;
std::optional<std::map<std::string, flat_json_value>> parse_flat_json_object(std::string_view text);

}  // namespace procactor_bench
