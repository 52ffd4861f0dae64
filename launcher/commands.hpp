// The seam between the `procactor` command line and what runs behind it.
//
// main.cpp only parses arguments into these structs and calls one function
// per subcommand. The graph commands (validate, graph, launch's checks and
// --dry-run) live in commands_graph.cpp; the ones that need the runtime live
// in commands_run.cpp, commands_inspect.cpp and launch.cpp. Every function
// returns the process exit code.
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "diagnostic.hpp"
#include "graph.hpp"
#include "units.hpp"

namespace procactor {
class Runtime;
}

namespace procactor::launcher {

// The exit codes of every subcommand, as README.md documents them.
enum ExitCode : int {
  exit_ok = 0,
  exit_failure = 1,      // a failure, the supervisor gave up, or the run's supervisor died
  exit_usage = 2,        // bad arguments or an invalid graph file
  exit_no_such_run = 3,  // no such run or actor in it, or the run has ended
};

enum class GraphFormat : std::uint8_t { text, dot };

struct ValidateOptions {
  std::filesystem::path file;
  // Check the file alone: no plugins are looked for or loaded, so graph
  // files can be linted before (or without) building their plugins.
  bool file_only = false;
};

// `procactor node`: run by mpirun, once per node of a multi-node run.
struct NodeOptions {
  std::filesystem::path file;
  std::string node;
  // What replicas = "auto" is on every node: the launching host's count,
  // so that the nodes of hosts with other core counts agree on the graph.
  std::optional<std::uint32_t> auto_replicas;
  // The launching host's run (launch gives its own name, so that the
  // nodes' runs of a second run of the graph are RUN-2-NODE, not
  // RUN-NODE-2); empty: the graph's name.
  std::string run;
};

struct GraphOptions {
  std::filesystem::path file;
  GraphFormat format = GraphFormat::text;
};

struct LaunchOptions {
  std::filesystem::path file;
  bool dry_run = false;
  bool detach = false;
  // false: never colour (a node of a multi-node run, whose output is
  // mpirun's); else --color and the environment decide (terminal.hpp)
  bool color = true;
  std::optional<ListenAddress> http;  // --http: serve the dashboard while the run lasts
};

struct StatusOptions {
  std::optional<std::string> run;  // absent: the live run, or the latest if it died (find_run)
  bool json = false;
  bool watch = false;
};

struct LogsOptions {
  std::string run;
  std::optional<ActorTarget> actor;  // absent: every actor
  bool follow = false;
  std::optional<std::size_t> tail;   // last N lines; absent: all
  std::optional<std::chrono::system_clock::time_point> since;  // only lines written at or after it
};

struct LsOptions {
  bool json = false;
};

struct EventsOptions {
  std::string run;
  bool json = false;    // the lines of events.jsonl as they are
  bool follow = false;  // until the run ends
};

struct StopOptions {
  std::optional<std::string> run;  // absent: the live run, or the latest if it died (find_run)
  std::optional<std::chrono::nanoseconds> timeout;  // absent: the graph's shutdown_timeout
};

// Not RestartOptions: that is the runtime's (how Runtime::restart stops
// the running incarnation), which these become.
struct RestartCommandOptions {
  std::string run;
  ActorTarget actor;
  bool force = false;  // SIGKILL at once: no on_stop, the message in hand is redelivered
  bool drain = false;  // handle what is queued first
};

struct InspectOptions {
  std::string run;
  ActorTarget actor;
  bool json = false;
};

struct ScaleOptions {
  std::string run;
  std::string actor;
  std::uint32_t replicas = 1;
};

struct KillOptions {
  std::string run;
  ActorTarget actor;
  int signal = SIGKILL;
};

// commands_graph.cpp
[[nodiscard]] int validate_command(const ValidateOptions& options);
[[nodiscard]] int graph_command(const GraphOptions& options);
// Parses and checks the graph; prints the plan on --dry-run, else hands the
// valid graph to launch_graph().
[[nodiscard]] int launch_command(const LaunchOptions& options);
// Checks the graph as launch does, then runs one node of it (run_node).
[[nodiscard]] int node_command(const NodeOptions& options);

// commands_run.cpp — the runtime's side of the seam.

// The actor types the graph's plugins register, for check_types(); nullopt
// when they cannot be listed (the check is then skipped). A plugin that
// fails to load adds a diagnostic at that plugin's position; one that
// registers no actor type is named in `typeless`, when given.
[[nodiscard]] std::optional<std::vector<std::string>> list_actor_types(const Graph& graph,
                                                                       std::vector<Diagnostic>& diagnostics,
                                                                       std::vector<std::string>* typeless = nullptr);
// Starts a graph that passed every check.
class graph_run;
// What a node of a multi-node run adds to a launch (node.cpp): its name, and
// the run itself once the Runtime exists (the gateway, then the graph).
struct node_setup {
  std::string name;
  // The run on the launching host, whose part this node's run is (named
  // WHOLE-NODE); empty: the graph's name.
  std::string whole_run;
  std::function<int(graph_run&, Runtime&)> run;
  explicit operator bool() const noexcept { return static_cast<bool>(run); }
};
[[nodiscard]] int launch_graph(const LaunchOptions& options, const Graph& graph, const node_setup& node = {});
// A graph placed on several nodes: mpirun starts `procactor node` on each
// (cluster_launch.cpp).
[[nodiscard]] int launch_cluster(const LaunchOptions& options, const Graph& graph);
// `procactor node`: one node of a multi-node run, started by mpirun.
[[nodiscard]] int run_node(const Graph& graph, const std::string& node, const std::string& whole_run = {});
[[nodiscard]] int status_command(const StatusOptions& options);
[[nodiscard]] int logs_command(const LogsOptions& options);
[[nodiscard]] int stop_command(const StopOptions& options);
[[nodiscard]] int restart_command(const RestartCommandOptions& options);
[[nodiscard]] int scale_command(const ScaleOptions& options);
// commands_inspect.cpp
[[nodiscard]] int inspect_command(const InspectOptions& options);
[[nodiscard]] int kill_command(const KillOptions& options);
// commands_ls.cpp — the runs' records.
[[nodiscard]] int ls_command(const LsOptions& options);
[[nodiscard]] int events_command(const EventsOptions& options);

}  // namespace procactor::launcher
