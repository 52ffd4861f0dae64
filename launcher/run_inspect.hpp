// The reply to `inspect ACTOR[.N]`: for each chosen instance, its last
// exits (how, why, the message in flight, its last lines on stderr) and its
// dead letters (with a hex preview of each payload's first bytes).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>

#include "graph.hpp"
#include "run_status.hpp"

namespace procactor::launcher {

// The payload bytes a dead letter's preview shows.
inline constexpr std::size_t dead_letter_preview_bytes = 32;

// {"run", "instances": [{"name", "type", "group", "pid", "state", "restarts",
//   "exits": [{"exit_code", "signal", "core_dumped", "how", "cause",
//              "uptime_ms", "at" (UTC, ISO 8601), "inflight": null or
//              {"type", "sender", "attempt"}, "stderr_tail": [...]}],
//   "dead_letters": [{"type", "size", "sender", "reason", "attempts",
//                     "preview_hex"}]}]}
// Exits and dead letters oldest first.
[[nodiscard]] nlohmann::json inspect_json(Runtime& rt, const Graph& graph, const std::string& run_name,
                                          const std::vector<instance_ref>& chosen);

// "03 00 00 00": the first `limit` bytes, then "..." when there are more.
[[nodiscard]] std::string hex_preview(const std::vector<std::byte>& bytes, std::size_t limit);

}  // namespace procactor::launcher
