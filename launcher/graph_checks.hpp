// Checks of a parsed Graph against things outside the file: the plugins on
// disk, and the actor types and params those plugins declare. They are kept
// apart from parse_graph() because only the runtime can load plugins; the
// runtime hands their answers in here so the errors still point at the file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <procactor/params.hpp>

#include "diagnostic.hpp"
#include "graph.hpp"

namespace procactor::launcher {

// "unknown actor type 'X' (did you mean 'Y'?)" for each actor whose type is
// not among `known_types`; the runtime supplies the list from its plugins.
[[nodiscard]] std::vector<Diagnostic> check_types(const Graph& graph, const std::vector<std::string>& known_types,
                                                  const std::vector<std::string>& typeless_plugins = {});

// "plugin 'X' not found" for each plugin file that does not exist.
[[nodiscard]] std::vector<Diagnostic> check_plugin_files(const Graph& graph);

// A missing, mistyped, out-of-range or unknown param of `actor`, each naming
// the key and pointing at its line.
[[nodiscard]] std::vector<Diagnostic> check_params(const Graph& graph, const ActorSpec& actor,
                                                   std::span<const procactor::ParamSpec> expected);

// Of a graph placed on several [cluster] nodes, launched by a procactor
// built without the multi-node transport (`built_with_mpi` false): why it
// cannot run ("graph G is placed on N nodes, and this procactor was built
// without MPI ..."). nullopt when it can: with MPI, without a [cluster], or
// with every instance on one node. validate, launch --dry-run and launch all
// refuse such a graph with this one message.
[[nodiscard]] std::optional<std::string> needs_mpi_error(const Graph& graph, bool built_with_mpi);

}  // namespace procactor::launcher
