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

std::string to_dot(const Graph& graph) {
  std::string out = "digraph " + dot_quote(graph.name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, fontname=\"monospace\"];\n";
  out += "  edge [fontname=\"monospace\"];\n";
  for (const ActorSpec& actor : graph.actors) {
    std::string replicas = "x" + std::to_string(actor.replicas);
    if (actor.replicas_auto) {
      replicas += " (auto)";
    }
    const std::string label = "\"" + escape(actor.name) + "\\n" + escape(actor.type) + "\\n" + replicas + "\"";
    out += "  " + dot_quote(actor.name) + " [label=" + label + "];\n";
  }
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
