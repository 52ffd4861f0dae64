#include "dot.hpp"

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

std::string node_line(const ActorSpec& actor, const std::string& indent) {
  std::string replicas = "x" + std::to_string(actor.replicas);
  if (actor.replicas_auto) {
    replicas += " (auto)";
  }
  const std::string label = "\"" + escape(actor.name) + "\\n" + escape(actor.type) + "\\n" + replicas + "\"";
  return indent + dot_quote(actor.name) + " [label=" + label + "];\n";
}

// A group's actors, then its groups as nested clusters labeled with their
// strategy and intensity, each in file order; the root's actors sit outside
// any cluster. Groups without actors are drawn too: the file has them.
void add_members(const Graph& graph, const GroupSpec& group, const std::string& indent, std::string& out) {
  for (const ActorSpec& actor : graph.actors) {
    if (actor.group == group.name) {
      out += node_line(actor, indent);
    }
  }
  for (const GroupSpec& child : graph.groups) {
    if (child.is_root() || child.parent != group.name) {
      continue;
    }
    out += indent + "subgraph " + dot_quote("cluster_" + child.name) + " {\n";
    out += indent + "  label=" +
           dot_quote(child.name + "\n" + std::string(to_string(child.options.strategy)) + ", " +
                     graph.describe_intensity(child)) +
           ";\n";
    out += indent + "  style=rounded;\n";
    add_members(graph, child, indent + "  ", out);
    out += indent + "}\n";
  }
}

}  // namespace

std::string to_dot(const Graph& graph) {
  std::string out = "digraph " + dot_quote(graph.name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, fontname=\"monospace\"];\n";
  out += "  edge [fontname=\"monospace\"];\n";
  add_members(graph, graph.root(), "  ", out);
  for (const RouteSpec& route : graph.routes) {
    std::string policy(to_string(route.policy));
    if (route.key) {
      policy += "(" + *route.key + ")";
    }
    out += "  " + dot_quote(route.from) + " -> " + dot_quote(route.to) + " [label=" + dot_quote(policy) + "];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace procactor::launcher
