// `procactor launch`, once the graph has passed every check: the host
// checks, the run directory, --detach, the Runtime, and the run itself
// (graph_run.hpp).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <procactor/runtime.hpp>

#include "commands.hpp"
#include "dashboard.hpp"
#include "detach.hpp"
#include "graph_run.hpp"
#include "host_limits.hpp"
#include "log_writer.hpp"
#include "run_dir.hpp"
#include "runtime_options.hpp"
#include "stop_signals.hpp"

namespace procactor::launcher {

int launch_graph(const LaunchOptions& options, const Graph& graph, const node_setup& node) {
  const std::size_t instances = instance_count(graph);
  const std::uint64_t arena_bytes = arena_size_for(graph);
  // A configuration this host cannot run, refused before anything starts
  // (exit code 2, as launch --dry-run refuses it).
  if (!host_allows(graph, instances)) return exit_usage;
  // Refused before the run is made, as a bad argument is.
  if (const auto rotate = log_rotate_setting(); !rotate) {
    std::cerr << "procactor: error: " << rotate.error << '\n';
    return exit_usage;
  }
  // Bound before the run is made, so that a port in use fails the command
  // with no run left behind, and before --detach, so that it fails the
  // command itself; served once no fork is to come.
  std::optional<dashboard_server> dashboard;
  if (options.http && !node && !bind_dashboard(*options.http, dashboard)) return exit_failure;
  // Each node of a multi-node run has a run directory of its own, which
  // `status` and `logs` read on its host: RUN-NODE, after the launching
  // host's run (GRAPH-NODE for the first run of the graph).
  const std::string whole = node && !node.whole_run.empty() ? node.whole_run : graph.name;
  RunEntry run = create_run(node ? whole + "-" + node.name : graph.name);
  if (node) record_node_of(run, whole);
  int detached_code = exit_ok;
  if (options.detach && detach(run, detached_code)) return detached_code;
  record_supervisor(run);
  install_stop_signals(static_cast<bool>(node));

  Options runtime_options = run_options(graph);
  runtime_options.arena_size = std::max<std::uint64_t>(runtime_options.arena_size, arena_bytes);
  runtime_options.max_actors = static_cast<std::uint32_t>(instances);
  if (!node) {
    // Room for `procactor scale` to add replicas: slots up to the most a run
    // has, and address space for their mailboxes (the arena's pages are
    // taken as it hands them out, so the headroom costs nothing unused).
    runtime_options.max_actors = std::max<std::uint32_t>(runtime_options.max_actors, max_instances_per_run);
    runtime_options.arena_size = std::min(max_arena_bytes, std::max(runtime_options.arena_size * 4,
                                                                    runtime_options.arena_size + (256U << 20U)));
  }
  runtime_options.log_events = false;  // `launch` prints its own events
  std::vector<std::string> args = {"procactor", "actor"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Declared before the Runtime, so destroyed after it: the runtime's
  // monitor thread calls back into it (output lines, events) until the
  // Runtime's destructor has joined that thread.
  graph_run graph_run(graph, options, run);
  // What the runtime says in this process (a hung actor killed, messages
  // that became dead letters as an actor ended, problems in shared memory)
  // is part of the run's output and its run.log, in the launcher's format.
  runtime_options.logger = [&graph_run](std::string_view who, std::string_view text) {
    graph_run.say(std::string(who) + ": " + std::string(text));
  };
  std::unique_ptr<Runtime> rt;
  try {
    rt = std::make_unique<Runtime>(static_cast<int>(args.size()), argv.data(), runtime_options);
  } catch (const std::exception& e) {
    return graph_run.failed_to_start(std::string("cannot start the runtime: ") + e.what());
  }
  if (rt->options().max_actors < instances) {
    return graph_run.failed_to_start("the runtime holds at most " + std::to_string(rt->options().max_actors) +
                                     " actors; the graph has " + std::to_string(instances));
  }
  if (node) return node.run(graph_run, *rt);
  if (dashboard) dashboard->serve(run);
  const int code = graph_run.run(*rt);
  if (dashboard) dashboard->linger();
  return code;
}

}  // namespace procactor::launcher
