// procactor::launcher::Graph — a graph file, parsed and validated.
//
// The file is a thin TOML face over the library's types: params are
// procactor::ParamValue, routes procactor::RoutePolicy, groups
// procactor::GroupOptions, restart types procactor::Restart, backoff
// procactor::Backoff.
//
// A Graph is only ever handed out whole and valid: parse_graph() either
// returns one or returns every diagnostic it found, never a half-checked
// graph. Positions of the things that later checks may complain about
// (types, params) are kept, so the runtime can report against the file too.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <procactor/params.hpp>
#include <procactor/route.hpp>
#include <procactor/runtime.hpp>
#include <procactor/supervision.hpp>

#include "diagnostic.hpp"

namespace procactor::launcher {

// The most actor instances one run can hold, replicas of every actor added
// up: the runtime's slot table has 1,024 slots (procactor::detail::max_slots)
// and the supervisor takes one. tests/launcher checks the two agree.
inline constexpr std::uint32_t max_instances_per_run = 1023;

// The name the runtime gives its root group (ActorInfo::group,
// ActorEvent::name), which [supervisor] configures. A graph may name it as
// a group's parent or an actor's group; [groups.root] is refused.
inline constexpr std::string_view root_group_name = "root";

struct Param {
  std::string name;
  procactor::ParamValue value;
  SourcePosition position;  // of the value
};

// Where an actor's replicas may run: anywhere, replica i on core i mod
// cores, or replica i on cores[i mod size].
struct CpuPlacement {
  enum class Kind : std::uint8_t { any, spread, list };
  Kind kind = Kind::any;
  std::vector<int> cores;  // only for Kind::list
};

// One supervision group: [supervisor] is the root, each [groups.NAME] one
// more. What the file leaves out has the library's default (GroupOptions{}).
struct GroupSpec {
  std::string name;                 // root_group_name for [supervisor]
  procactor::GroupOptions options;  // strategy and intensity
  std::string parent;               // the parent group's name; empty for the root
  SourcePosition position;          // of NAME in [groups.NAME]; line 0 for the root
  SourcePosition parent_position;   // of the `parent` value, or of the name when absent

  [[nodiscard]] bool is_root() const noexcept { return parent.empty(); }
};

// One host of a graph spread over several: an entry of [cluster] nodes.
// The name is what actors are placed by; several nodes may share a host.
struct NodeSpec {
  std::string name;
  std::string host;
  SourcePosition position;  // of the node's table in `nodes`
};

// [cluster]: the nodes a graph is placed on, and the MPI launcher that
// will start one node supervisor per node. This build reads, checks and
// shows the placement; `launch` runs a graph only when it uses one node.
struct ClusterSpec {
  std::vector<NodeSpec> nodes;  // at least one, names unique, in file order
  std::string launcher = "mpirun";  // or "srun"
  std::vector<std::string> mpi_args;  // passed to the launcher as written
  // Each node's gateway polls without ever sleeping: a core of its own for
  // the lowest latency between nodes, instead of sleeping when idle.
  bool gateway_spin = false;
  // How long every node may take to say it is ready (mpirun starting the
  // ranks, MPI's start-up, each node's actors): past it the run ends.
  std::chrono::nanoseconds start_timeout = std::chrono::seconds(30);
  SourcePosition position;  // of the [cluster] table

  [[nodiscard]] const NodeSpec* find_node(std::string_view node_name) const noexcept;
};

struct ActorSpec {
  std::string name;
  std::string type;
  std::uint32_t replicas = 1;
  bool replicas_auto = false;  // replicas came from "auto"
  CpuPlacement cpu;
  std::vector<Param> params;  // in file order
  // As in the library; in a graph a normal exit is the actor's end of
  // stream, so permanent and transient both restart after a crash only.
  procactor::Restart restart = procactor::SpawnOptions{}.restart;
  std::optional<std::uint64_t> mailbox_capacity;  // overrides the graph's
  std::optional<int> nice;
  std::optional<std::uint64_t> memory_limit;  // bytes, per replica
  std::string group{root_group_name};  // its supervision group: every replica is a member
  // The [cluster] nodes its replicas are placed on, replica i on nodes[i mod
  // size]; `node = "n1"` is a list of one. Empty: the first node.
  std::vector<std::string> nodes;

  SourcePosition position;       // of the name in [actors.NAME]
  SourcePosition type_position;  // of the type string
  SourcePosition replicas_position;  // of `replicas`, or of the name when absent
  SourcePosition params_position;  // of `params`, or of the name when absent
  SourcePosition group_position;   // of `group`, or of the name when absent
  SourcePosition nodes_position;   // of `node` or `nodes`, or of the name when absent
  SourcePosition mailbox_capacity_position;  // of `mailbox_capacity`; line 0 when absent

  [[nodiscard]] const Param* find_param(std::string_view param_name) const noexcept;
};

struct RouteSpec {
  std::string from;
  std::string to;
  procactor::RoutePolicy policy = procactor::RoutePolicy::round_robin;
  // For key_hash: which part of a message is hashed; the runtime defines
  // what it names. Absent means the message's default key.
  std::optional<std::string> key;
  SourcePosition position;  // of [[routes]]
};

struct PluginSpec {
  std::filesystem::path path;  // resolved against the graph file's directory, or found (plugin_path.hpp)
  std::string as_written;
  SourcePosition position;
  // A bare file name: every place it was looked for, in order (empty for a path).
  std::vector<std::filesystem::path> looked = {};
};

// A graph file read into the library's own types. Where the file is silent
// a value is the library's default (Options{}, SpawnOptions{}, Backoff{},
// GroupOptions{}), never one of the launcher's own.
struct Graph {
  SourceFile source;
  std::string name;  // the file's stem when [graph] name is absent
  std::vector<PluginSpec> plugins;
  // Every actor's mailbox_capacity unless it says otherwise; absent: the
  // runtime's (Options::lane_capacity).
  std::optional<std::uint64_t> mailbox_capacity;
  SourcePosition mailbox_capacity_position;  // line 0 when absent
  std::chrono::milliseconds shutdown_timeout = procactor::Options{}.shutdown_timeout;
  // [supervisor]'s defaults for every actor: backoff_initial, backoff_max,
  // min_uptime (Backoff::reset_after), and stall_timeout (0: none).
  procactor::Backoff backoff;
  std::chrono::milliseconds stall_timeout = procactor::SpawnOptions{}.stall_timeout;
  // groups[0] is the root ([supervisor]); then [groups.NAME] in file order.
  // Parents are known and acyclic.
  std::vector<GroupSpec> groups;
  std::vector<ActorSpec> actors;  // in file order
  std::vector<RouteSpec> routes;  // in file order
  // Absent without a [cluster] table: everything runs on this host.
  std::optional<ClusterSpec> cluster;
  // Durations as the file wrote them ("30s"), by key path
  // ("supervisor.within", "groups.workers.within", "graph.shutdown_timeout"),
  // so that what the launcher prints reads in the user's own units.
  std::map<std::string, std::string, std::less<>> durations_as_written;

  [[nodiscard]] const ActorSpec* find_actor(std::string_view actor_name) const noexcept;
  [[nodiscard]] const GroupSpec* find_group(std::string_view group_name) const noexcept;
  [[nodiscard]] const GroupSpec& root() const noexcept { return groups.front(); }
  // The duration at `key_path` as the file wrote it; when the file left it
  // out, `value` (the default) formatted.
  [[nodiscard]] std::string duration_text(std::string_view key_path, std::chrono::nanoseconds value) const;
  // "group 'workers'", or "[supervisor]" for the root.
  [[nodiscard]] std::string describe_group(const GroupSpec& group) const;
  // "at most 3 restarts within 10s" (in the file's units), or "no restart limit".
  [[nodiscard]] std::string describe_intensity(const GroupSpec& group) const;
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

// The replica count "auto" resolves to: one per core, at least one, or
// what set_auto_replicas set.
[[nodiscard]] std::uint32_t auto_replicas() noexcept;
// Makes "auto" `count` in this process (a node of a multi-node run takes
// the launching host's count); 0: one per core again.
void set_auto_replicas(std::uint32_t count) noexcept;

// The order in which `launch` starts the actors, which is also the start
// order of every supervision group (what rest_for_one goes by): an actor
// starts after every actor it routes to, so sinks come first and sources
// last: sweeps over the file, each starting (in file order) every actor
// whose targets have all started. Indexes into graph.actors.
[[nodiscard]] std::vector<std::size_t> start_order(const Graph& graph);

// One member of a supervision group: an actor (all its replicas) or a group.
struct GroupMember {
  bool is_group = false;
  std::size_t index = 0;  // into graph.actors or graph.groups
};
// The members of each group (indexed as graph.groups), in start order: a
// group takes its place among its parent's members where its first actor
// starts. A group with no actor under it has no members and never starts.
[[nodiscard]] std::vector<std::vector<GroupMember>> supervision_tree(const Graph& graph);

// The node replica `replica` of `actor` is placed on, as an index into
// graph.cluster->nodes: nodes[replica mod size] of the actor's list, or the
// first node when it has none. 0 when the graph has no [cluster].
[[nodiscard]] std::size_t node_for_replica(const Graph& graph, const ActorSpec& actor,
                                           std::uint32_t replica) noexcept;

// How many actor instances each node holds, indexed as graph.cluster->nodes;
// one entry (every instance) when the graph has no [cluster].
[[nodiscard]] std::vector<std::size_t> instances_per_node(const Graph& graph);

// Of a graph with a [cluster], the node every instance is on when that is
// one node (the graph then runs on the launching host, without mpirun);
// nullopt when the instances are on several, or there is no [cluster].
[[nodiscard]] std::optional<std::size_t> only_node(const Graph& graph);

// The core replica `replica` is pinned to, or nullopt when unpinned.
[[nodiscard]] std::optional<int> cpu_for_replica(const CpuPlacement& cpu, std::uint32_t replica,
                                                 std::uint32_t cores) noexcept;

}  // namespace procactor::launcher
