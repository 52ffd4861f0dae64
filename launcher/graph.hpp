// procactor::launcher::Graph — a graph file, parsed and validated.
//
// A Graph is only ever handed out whole and valid: parse_graph() either
// returns one or returns every diagnostic it found, never a half-checked
// graph. Positions of the things that later checks may complain about
// (types, params) are kept, so the runtime can report against the file too.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "diagnostic.hpp"

namespace procactor::launcher {

// The most actor instances one run can hold, replicas of every actor added
// up: the runtime's slot table has 1,024 slots (procactor::detail::max_slots)
// and the supervisor takes one. tests/launcher checks the two agree.
inline constexpr std::uint32_t max_instances_per_run = 1023;

enum class RestartStrategy : std::uint8_t { one_for_one, one_for_all, rest_for_one };
// permanent: always restarted; transient: restarted only after a crash;
// temporary: never restarted.
enum class RestartPolicy : std::uint8_t { permanent, transient, temporary };
enum class RoutePolicy : std::uint8_t { round_robin, broadcast, key_hash, random };

[[nodiscard]] std::string_view to_string(RestartStrategy strategy) noexcept;
[[nodiscard]] std::string_view to_string(RestartPolicy policy) noexcept;
[[nodiscard]] std::string_view to_string(RoutePolicy policy) noexcept;

struct SupervisorSpec {
  RestartStrategy strategy = RestartStrategy::one_for_one;
  // Giving up after more than max_restarts restarts inside `within`.
  std::uint32_t max_restarts = 5;
  std::chrono::nanoseconds within = std::chrono::seconds(30);
  // A crashing actor waits backoff_initial before its first restart, twice
  // that before the next, up to backoff_max; an incarnation that lived
  // min_uptime resets the backoff, so one crash an hour is never throttled.
  std::chrono::nanoseconds backoff_initial = std::chrono::milliseconds(100);
  std::chrono::nanoseconds backoff_max = std::chrono::seconds(10);
  std::chrono::nanoseconds min_uptime = std::chrono::seconds(1);
  // An actor whose handler runs longer than this is killed and restarted;
  // absent means no stall detection.
  std::optional<std::chrono::nanoseconds> stall_timeout;
};

// Homogeneous arrays only: an actor asks for "a list of strings", never for
// a list of anything.
using ParamValue = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>,
                                std::vector<double>, std::vector<bool>, std::vector<std::string>>;

struct Param {
  std::string name;
  ParamValue value;
  SourcePosition position;  // of the value
};

// Where an actor's replicas may run: anywhere, replica i on core i mod
// cores, or replica i on cores[i mod size].
struct CpuPlacement {
  enum class Kind : std::uint8_t { any, spread, list };
  Kind kind = Kind::any;
  std::vector<int> cores;  // only for Kind::list
};

struct ActorSpec {
  std::string name;
  std::string type;
  std::uint32_t replicas = 1;
  bool replicas_auto = false;  // replicas came from "auto"
  CpuPlacement cpu;
  std::vector<Param> params;  // in file order
  RestartPolicy restart = RestartPolicy::permanent;
  std::optional<std::uint64_t> mailbox_capacity;  // overrides the graph's
  std::optional<int> nice;
  std::optional<std::uint64_t> memory_limit;  // bytes, per replica

  SourcePosition position;       // of the name in [actors.NAME]
  SourcePosition type_position;  // of the type string
  SourcePosition replicas_position;  // of `replicas`, or of the name when absent
  SourcePosition params_position;  // of `params`, or of the name when absent

  [[nodiscard]] const Param* find_param(std::string_view param_name) const noexcept;
};

struct RouteSpec {
  std::string from;
  std::string to;
  RoutePolicy policy = RoutePolicy::round_robin;
  // For key_hash: which part of a message is hashed; the runtime defines
  // what it names. Absent means the message's default key.
  std::optional<std::string> key;
  SourcePosition position;  // of [[routes]]
};

struct PluginSpec {
  std::filesystem::path path;  // resolved against the graph file's directory
  std::string as_written;
  SourcePosition position;
};

struct Graph {
  SourceFile source;
  std::string name;  // the file's stem when [graph] name is absent
  std::vector<PluginSpec> plugins;
  std::uint64_t mailbox_capacity = 1ULL << 20U;
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(5);
  SupervisorSpec supervisor;
  std::vector<ActorSpec> actors;  // in file order
  std::vector<RouteSpec> routes;  // in file order

  [[nodiscard]] const ActorSpec* find_actor(std::string_view actor_name) const noexcept;
};

// Either a valid graph or the diagnostics, sorted by position.
struct ParseResult {
  std::optional<Graph> graph;
  std::vector<Diagnostic> diagnostics;
  // With errors: what could be read anyway, so that the checks that need
  // the plugins (types, params) still report in the same run.
  std::optional<Graph> partial;

  [[nodiscard]] bool ok() const noexcept { return graph.has_value(); }
};

// Reads, parses and validates a graph file; `path` is reported as given.
[[nodiscard]] ParseResult parse_graph(const std::filesystem::path& path);
// The same, from text already in memory (tests, stdin).
[[nodiscard]] ParseResult parse_graph_text(std::string_view text, std::string display_path,
                                           const std::filesystem::path& base_directory);

// The replica count "auto" resolves to: one per core, at least one.
[[nodiscard]] std::uint32_t auto_replicas() noexcept;

// The core replica `replica` is pinned to, or nullopt when unpinned.
[[nodiscard]] std::optional<int> cpu_for_replica(const CpuPlacement& cpu, std::uint32_t replica,
                                                 std::uint32_t cores) noexcept;

}  // namespace procactor::launcher
