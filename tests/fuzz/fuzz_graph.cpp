// fuzz-graph: the graph loader (parse_graph_text: TOML text to a validated
// Graph, or every diagnostic), then what the CLI does with its result:
// render the diagnostics, or print the plan and the DOT of a valid graph.
// A graph file is user input; no text may crash the loader, and the result
// must keep the loader's promise: a graph with no diagnostics, or
// diagnostics and no graph, each pointing inside the file.
#include <algorithm>
#include <string_view>

#include "dot.hpp"
#include "fuzz_support.hpp"
#include "graph.hpp"
#include "plan.hpp"

using namespace procactor::launcher;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A base directory that does not exist: plugin paths are resolved against
  // it, never opened by the parser.
  const ParseResult result = parse_graph_text(text, "fuzz.toml", "/nonexistent/procactor-fuzz");
  const auto lines = static_cast<std::uint32_t>(std::count(text.begin(), text.end(), '\n') + 1);
  if (result.ok()) {
    fuzz::require(result.diagnostics.empty(), "a valid graph came with diagnostics");
    const Graph& graph = *result.graph;
    for (const RouteSpec& route : graph.routes) {
      fuzz::require(graph.find_actor(route.from) != nullptr && graph.find_actor(route.to) != nullptr,
                    "a valid graph routes to an actor it does not have");
    }
    for (const ActorSpec& actor : graph.actors) {
      fuzz::require(actor.replicas >= 1, "a valid graph with an actor of no replicas");
    }
    fuzz::require(!plan_text(graph).empty() || graph.actors.empty(), "an empty plan for a graph with actors");
    fuzz::require(to_dot(graph).starts_with("digraph"), "DOT output that is not a digraph");
  } else {
    fuzz::require(!result.diagnostics.empty(), "a refused graph without a diagnostic");
    for (const Diagnostic& diagnostic : result.diagnostics) {
      fuzz::require(!diagnostic.message.empty(), "a diagnostic without a message");
      fuzz::require(diagnostic.line <= lines, "a diagnostic past the last line");
      fuzz::require(!render(diagnostic, false).empty() && !render(diagnostic, true).empty(),
                    "a diagnostic that renders as nothing");
    }
  }
  return 0;
}
