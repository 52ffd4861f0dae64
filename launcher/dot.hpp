// A graph as Graphviz DOT, for `procactor graph FILE --format dot`.
#pragma once

#include <string>
#include <string_view>

#include "graph.hpp"

namespace procactor::launcher {

// A `digraph` that `dot -Tsvg` accepts: every identifier quoted, nodes
// labeled with name, type and replica count, edges with their policy.
[[nodiscard]] std::string to_dot(const Graph& graph);

// `text` as a DOT quoted string, quotes included.
[[nodiscard]] std::string dot_quote(std::string_view text);

}  // namespace procactor::launcher
