#include "plan.hpp"

#include <algorithm>

#include "units.hpp"

namespace procactor::launcher {

namespace {

std::string describe(const Graph& graph, const std::string& name) {
  const ActorSpec* actor = graph.find_actor(name);
  // parse_graph() only hands out graphs whose routes name real actors.
  return name + " (" + actor->type + ") x" + std::to_string(actor->replicas);
}

std::string group_line(const Graph& graph, const GroupSpec& group) {
  return graph.describe_group(group) + " " + std::string(to_string(group.options.strategy)) + ", " +
         graph.describe_intensity(group);
}

void add_members(const Graph& graph, const std::vector<std::vector<GroupMember>>& tree, std::size_t group,
                 const std::string& indent, std::string& out) {
  for (const GroupMember& member : tree[group]) {
    if (member.is_group) {
      out += indent + group_line(graph, graph.groups[member.index]) + "\n";
      add_members(graph, tree, member.index, indent + "  ", out);
    } else {
      const ActorSpec& actor = graph.actors[member.index];
      out += indent + actor.name + " x" + std::to_string(actor.replicas) + " (" +
             std::string(to_string(actor.restart)) + ")\n";
    }
  }
}

// An argument as a shell would need it, so the launcher line can be pasted.
std::string shell_word(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()#~") == std::string::npos) {
    return arg;
  }
  std::string quoted = "'";
  for (char c : arg) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

// Each node with its host and instances: per actor, in start order, the
// replicas placed there.
void add_placement(const Graph& graph, std::string& out) {
  const ClusterSpec& cluster = *graph.cluster;
  std::string launcher = cluster.launcher;
  for (const std::string& arg : cluster.mpi_args) {
    launcher += " " + shell_word(arg);
  }
  const std::vector<std::size_t> counts = instances_per_node(graph);
  if (const auto only = only_node(graph)) {
    // launch does not start the others, nor mpirun: this host runs it.
    out += "cluster of " + format_count(cluster.nodes.size(), "node") + ", every instance on node " +
           cluster.nodes[*only].name + ": it runs here, as a graph without [cluster] (no " + cluster.launcher +
           "; host " + cluster.nodes[*only].host + " is not used):\n";
  } else {
    out += "cluster of " + format_count(cluster.nodes.size(), "node") + ", launcher " + launcher + ":\n";
  }
  const std::vector<std::size_t> order = start_order(graph);
  for (std::size_t node = 0; node < cluster.nodes.size(); ++node) {
    out += "  node " + cluster.nodes[node].name + " (" + cluster.nodes[node].host + "): " +
           (counts[node] == 0 ? std::string("no instances") : format_count(counts[node], "instance")) + "\n";
    for (std::size_t index : order) {
      const ActorSpec& actor = graph.actors[index];
      std::string line;
      for (std::uint32_t replica = 0; replica < actor.replicas; ++replica) {
        if (node_for_replica(graph, actor, replica) == node) {
          line += (line.empty() ? "" : " ") + actor.name + "." + std::to_string(replica);
        }
      }
      if (!line.empty()) {
        out += "    " + line + "\n";
      }
    }
  }
}

}  // namespace

std::string plan_text(const Graph& graph) {
  std::string out;
  for (const RouteSpec& route : graph.routes) {
    std::string policy(to_string(route.policy));
    if (route.key) {
      policy += "(" + *route.key + ")";
    }
    out += describe(graph, route.from) + " --" + policy + "--> " + describe(graph, route.to) + "\n";
  }
  for (const ActorSpec& actor : graph.actors) {
    const bool routed = std::any_of(graph.routes.begin(), graph.routes.end(), [&](const RouteSpec& route) {
      return route.from == actor.name || route.to == actor.name;
    });
    if (!routed) {
      out += describe(graph, actor.name) + "\n";
    }
  }
  const auto tree = supervision_tree(graph);
  out += "supervision, in start order:\n";
  out += "  " + group_line(graph, graph.root()) + "\n";
  add_members(graph, tree, 0, "    ", out);
  for (std::size_t g = 1; g < graph.groups.size(); ++g) {
    if (tree[g].empty()) {
      out += "  " + graph.describe_group(graph.groups[g]) + " has no actors and is not started\n";
    }
  }
  if (graph.cluster) {
    add_placement(graph, out);
  }
  return out;
}

}  // namespace procactor::launcher
