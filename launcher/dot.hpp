// A graph as Graphviz DOT, for `procactor graph FILE --format dot`.
#pragma once

#include <string>
#include <string_view>

#include "graph.hpp"

namespace procactor::launcher {

// A `digraph` that `dot -Tsvg` accepts: every identifier quoted, nodes
// labeled with name, type and replica count, edges with their policy.
// With a [cluster], one `cluster_NODE` subgraph per node ("node n0
// (alpha)") holds the replicas placed there: an actor is drawn as
// `actor@node` on each node it has replicas on ("x2 of 4"), and a route
// joins every pair.
[[nodiscard]] std::string to_dot(const Graph& graph);

// `text` as a DOT quoted string, quotes included.
[[nodiscard]] std::string dot_quote(std::string_view text);

}  // namespace procactor::launcher
