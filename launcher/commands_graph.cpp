// The subcommands that need only the graph file: validate, graph, and the
// checks (and --dry-run) of launch.
#include <algorithm>
#include <tuple>
#include <iostream>

#include <unistd.h>

#include "commands.hpp"
#include "dot.hpp"
#include "graph_checks.hpp"
#include "host_limits.hpp"
#include "plan.hpp"
#include "terminal.hpp"
#include "units.hpp"

namespace procactor::launcher {

namespace {

// Diagnostics go to stderr, which gets colour by the policy of every
// command (terminal.hpp) unless colour is not `allowed` at all.
bool stderr_wants_color(bool allowed) { return allowed && colour_for(STDERR_FILENO); }

std::optional<Graph> parse_or_report(const std::filesystem::path& file, bool color) {
  ParseResult parsed = parse_graph(file);
  if (!parsed.ok()) {
    render_all(std::cerr, parsed.diagnostics, stderr_wants_color(color));
    return std::nullopt;
  }
  return std::move(parsed.graph);
}

// Everything a launch would check before starting a process: the file
// itself, then the plugins on disk, then the types they register and their
// params. A file with errors still gets the plugin checks on what could be
// read, so that every error comes out in one run. Nothing may start from a
// graph that fails any of them.
std::optional<Graph> load_checked(const std::filesystem::path& file, bool color) {
  ParseResult parsed = parse_graph(file);
  std::vector<Diagnostic> diagnostics = std::move(parsed.diagnostics);
  // A partial graph is checked against its plugins only if it names some:
  // "no plugins listed" after each of a broken file's actors would bury the
  // errors that matter.
  const Graph* graph = parsed.ok()                                           ? &*parsed.graph
                       : parsed.partial && !parsed.partial->plugins.empty() ? &*parsed.partial
                                                                            : nullptr;
  if (graph != nullptr) {
    std::vector<Diagnostic> found = check_plugin_files(*graph);
    if (found.empty()) {
      std::vector<std::string> typeless;
      if (auto types = list_actor_types(*graph, found, &typeless)) {
        std::vector<Diagnostic> unknown = check_types(*graph, *types, typeless);
        found.insert(found.end(), unknown.begin(), unknown.end());
      }
    }
    // Where the file's own check already spoke about a value (a malformed
    // type, say), the plugin checks' view of it adds nothing.
    const std::size_t from_file = diagnostics.size();
    for (auto& d : found) {
      const bool said = std::any_of(diagnostics.begin(), diagnostics.begin() + static_cast<std::ptrdiff_t>(from_file),
                                    [&](const Diagnostic& e) { return e.line == d.line && e.column == d.column; });
      if (!said) diagnostics.push_back(std::move(d));
    }
  }
  if (!diagnostics.empty()) {
    sort_by_position(diagnostics);
    render_all(std::cerr, diagnostics, stderr_wants_color(color));
    return std::nullopt;
  }
  return std::move(parsed.graph);
}

// A graph that places everything on one node runs here as any other;
// spread over several, it takes mpirun and one node supervisor each.
bool placed_on_several_nodes(const Graph& graph) { return graph.cluster && !only_node(graph); }

#ifdef PROCACTOR_WITH_MPI
constexpr bool built_with_mpi = true;
#else
constexpr bool built_with_mpi = false;
#endif

// A graph this procactor cannot launch (placed on several nodes, built
// without MPI) fails validate and launch --dry-run as it fails launch.
bool refuse_without_mpi(const Graph& graph) {
  const std::optional<std::string> error = needs_mpi_error(graph, built_with_mpi);
  if (error) std::cerr << "procactor: error: " << *error << '\n';
  return error.has_value();
}

}  // namespace

int validate_command(const ValidateOptions& options) {
  const std::optional<Graph> graph =
      options.file_only ? parse_or_report(options.file, true) : load_checked(options.file, true);
  // --file-only checks the file alone, as a file any procactor could run;
  // without it, what this procactor can launch.
  if (!graph || (!options.file_only && refuse_without_mpi(*graph))) {
    return exit_usage;
  }
  // Groups are counted when the file has some ([groups.NAME]; the root is
  // always there).
  std::cout << options.file.string() << ": ok (" << format_count(graph->actors.size(), "actor") << ", "
            << format_count(graph->routes.size(), "route")
            << (graph->groups.size() > 1 ? ", " + format_count(graph->groups.size() - 1, "group") : std::string()) << ")\n";
  return exit_ok;
}

int graph_command(const GraphOptions& options) {
  // Drawing needs no plugins, so a graph can be drawn before it is built.
  const std::optional<Graph> graph = parse_or_report(options.file, true);
  if (!graph) {
    return exit_usage;
  }
  std::cout << (options.format == GraphFormat::dot ? to_dot(*graph) : plan_text(*graph));
  return exit_ok;
}

int launch_command(const LaunchOptions& options) {
  const std::optional<Graph> graph = load_checked(options.file, options.color);
  if (!graph || refuse_without_mpi(*graph)) {
    return exit_usage;
  }
  if (options.dry_run) {
    // What this host would refuse too (its open-file limit), as launch
    // refuses it: a multi-node run's nodes check their own hosts.
    if (!placed_on_several_nodes(*graph) && !host_allows(*graph, instance_count(*graph))) return exit_usage;
    std::cout << plan_text(*graph);
    return exit_ok;
  }
  if (placed_on_several_nodes(*graph)) {
    // Started all the same (a node is a rank, and ranks follow [cluster]),
    // but most likely not what the file meant.
    const std::vector<std::size_t> counts = instances_per_node(*graph);
    for (std::size_t n = 0; n < counts.size(); ++n) {
      if (counts[n] != 0) continue;
      const NodeSpec& node = graph->cluster->nodes[n];
      std::cout << "procactor | node " << node.name << " (host " << node.host << ") has no instance: "
                << graph->cluster->launcher << " starts it all the same, as [cluster] lists it" << std::endl;
    }
    return launch_cluster(options, *graph);
  }
  if (const auto only = only_node(*graph)) {
    const NodeSpec& node = graph->cluster->nodes[*only];
    std::cout << "procactor | every instance is on node " << node.name << ": the graph runs here, without "
              << graph->cluster->launcher << " (host " << node.host << " is not used)" << std::endl;
  }
  return launch_graph(options, *graph);
}

int node_command(const NodeOptions& options) {
  if (options.auto_replicas) set_auto_replicas(*options.auto_replicas);
  const std::optional<Graph> graph = load_checked(options.file, false);
  if (!graph) {
    return exit_usage;
  }
  return run_node(*graph, options.node, options.run);
}

}  // namespace procactor::launcher
