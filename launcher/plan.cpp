#include "plan.hpp"

#include <algorithm>

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
  return out;
}

}  // namespace procactor::launcher
