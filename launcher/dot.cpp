#include "dot.hpp"

#include <optional>

namespace procactor::launcher {

namespace {

// The inside of a DOT string. Only '"' must be escaped, but a trailing '\'
// would escape the closing quote, so backslashes are doubled too; newlines
// become DOT's own line break.
std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string dot_quote(std::string_view text) {
  return "\"" + escape(text) + "\"";
}

namespace {

// What one drawing of the supervision tree covers: the whole graph, or with
// a [cluster] the replicas on one node, whose actors are then named
// `actor@node` (an actor spread over nodes is drawn once on each).
struct Scope {
  const Graph& graph;
  std::optional<std::size_t> node;  // into graph.cluster->nodes
};

std::uint32_t replicas_in(const Scope& scope, const ActorSpec& actor) {
  if (!scope.node) {
    return actor.replicas;
  }
  std::uint32_t count = 0;
  for (std::uint32_t replica = 0; replica < actor.replicas; ++replica) {
    count += node_for_replica(scope.graph, actor, replica) == *scope.node ? 1 : 0;
  }
  return count;
}

std::string actor_id(const ActorSpec& actor, std::optional<std::size_t> node, const Graph& graph) {
  return node ? actor.name + "@" + graph.cluster->nodes[*node].name : actor.name;
}

std::string node_line(const Scope& scope, const ActorSpec& actor, const std::string& indent) {
  const std::uint32_t here = replicas_in(scope, actor);
  std::string replicas = "x" + std::to_string(here);
  if (here != actor.replicas) {
    replicas += " of " + std::to_string(actor.replicas);
  }
  if (actor.replicas_auto) {
    replicas += " (auto)";
  }
  const std::string label = "\"" + escape(actor.name) + "\\n" + escape(actor.type) + "\\n" + replicas + "\"";
  return indent + dot_quote(actor_id(actor, scope.node, scope.graph)) + " [label=" + label + "];\n";
}

// Instances of `group` and the groups under it, within the scope.
std::size_t instances_under(const Scope& scope, const GroupSpec& group) {
  std::size_t count = 0;
  for (const ActorSpec& actor : scope.graph.actors) {
    if (actor.group == group.name) count += replicas_in(scope, actor);
  }
  for (const GroupSpec& child : scope.graph.groups) {
    if (!child.is_root() && child.parent == group.name) count += instances_under(scope, child);
  }
  return count;
}

// On a node a group is drawn when it has instances there. A group with no
// actor at all still appears once, as it does without [cluster]: in the
// first node its parent appears in.
bool drawn(const Scope& scope, const GroupSpec& group) {
  if (!scope.node || group.is_root() || instances_under(scope, group) > 0) {
    return true;
  }
  if (instances_under(Scope{scope.graph, std::nullopt}, group) > 0) {
    return false;
  }
  const GroupSpec* parent = scope.graph.find_group(group.parent);
  for (std::size_t node = 0; parent != nullptr && node < scope.graph.cluster->nodes.size(); ++node) {
    if (drawn(Scope{scope.graph, node}, *parent)) {
      return node == *scope.node;
    }
  }
  return false;
}

// A group's actors, then its groups as nested clusters labeled with their
// strategy and intensity, each in file order; the root's actors sit outside
// any group's cluster. Groups without actors are drawn too: the file has them.
void add_members(const Scope& scope, const GroupSpec& group, const std::string& indent, std::string& out) {
  const Graph& graph = scope.graph;
  for (const ActorSpec& actor : graph.actors) {
    if (actor.group == group.name && replicas_in(scope, actor) > 0) {
      out += node_line(scope, actor, indent);
    }
  }
  for (const GroupSpec& child : graph.groups) {
    if (child.is_root() || child.parent != group.name || !drawn(scope, child)) {
      continue;
    }
    // Cluster names are global in DOT: a group drawn on several nodes needs
    // one per node ('.' cannot occur in a name).
    const std::string cluster = scope.node ? graph.cluster->nodes[*scope.node].name + "." + child.name : child.name;
    out += indent + "subgraph " + dot_quote("cluster_" + cluster) + " {\n";
    out += indent + "  label=" +
           dot_quote(child.name + "\n" + std::string(to_string(child.options.strategy)) + ", " +
                     graph.describe_intensity(child)) +
           ";\n";
    out += indent + "  style=rounded;\n";
    add_members(scope, child, indent + "  ", out);
    out += indent + "}\n";
  }
}

// One cluster per node, holding the supervision tree of what runs there.
void add_nodes(const Graph& graph, std::string& out) {
  for (std::size_t node = 0; node < graph.cluster->nodes.size(); ++node) {
    const NodeSpec& spec = graph.cluster->nodes[node];
    out += "  subgraph " + dot_quote("cluster_" + spec.name) + " {\n";
    out += "    label=" + dot_quote("node " + spec.name + " (" + spec.host + ")") + ";\n";
    out += "    style=dashed;\n";
    add_members(Scope{graph, node}, graph.root(), "    ", out);
    out += "  }\n";
  }
}

// The drawn nodes of an actor: itself, or one per node it has replicas on.
std::vector<std::string> ids_of(const Graph& graph, const std::string& name) {
  const ActorSpec* actor = graph.find_actor(name);
  if (!graph.cluster || actor == nullptr) {
    return {name};
  }
  std::vector<std::string> ids;
  for (std::size_t node = 0; node < graph.cluster->nodes.size(); ++node) {
    if (replicas_in(Scope{graph, node}, *actor) > 0) {
      ids.push_back(actor_id(*actor, node, graph));
    }
  }
  return ids;
}

}  // namespace

std::string to_dot(const Graph& graph) {
  std::string out = "digraph " + dot_quote(graph.name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, fontname=\"monospace\"];\n";
  out += "  edge [fontname=\"monospace\"];\n";
  if (!graph.cluster) {
    add_members(Scope{graph, std::nullopt}, graph.root(), "  ", out);
  } else {
    add_nodes(graph, out);
  }
  for (const RouteSpec& route : graph.routes) {
    std::string policy(to_string(route.policy));
    if (route.key) {
      policy += "(" + *route.key + ")";
    }
    for (const std::string& from : ids_of(graph, route.from)) {
      for (const std::string& to : ids_of(graph, route.to)) {
        out += "  " + dot_quote(from) + " -> " + dot_quote(to) + " [label=" + dot_quote(policy) + "];\n";
      }
    }
  }
  out += "}\n";
  return out;
}

}  // namespace procactor::launcher
