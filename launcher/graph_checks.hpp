// Checks of a parsed Graph against things outside the file: the plugins on
// disk, and the actor types and params those plugins declare. They are kept
// apart from parse_graph() because only the runtime can load plugins; the
// runtime hands their answers in here so the errors still point at the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.hpp"
#include "graph.hpp"

namespace procactor::launcher {

// "unknown actor type 'X' (did you mean 'Y'?)" for each actor whose type is
// not among `known_types`; the runtime supplies the list from its plugins.
[[nodiscard]] std::vector<Diagnostic> check_types(const Graph& graph, const std::vector<std::string>& known_types);

// "plugin 'X' not found" for each plugin file that does not exist.
[[nodiscard]] std::vector<Diagnostic> check_plugin_files(const Graph& graph);

// What an actor type expects of one param, as the type declares it.
enum class ParamKind : std::uint8_t {
  integer, floating, boolean, string, integer_array, floating_array, boolean_array, string_array
};
[[nodiscard]] std::string_view to_string(ParamKind kind) noexcept;
[[nodiscard]] ParamKind kind_of(const ParamValue& value) noexcept;

struct ParamSpec {
  std::string name;
  ParamKind kind = ParamKind::string;
  bool required = true;
};

// A missing, mistyped or unknown param of `actor`, each naming the key and
// pointing at its line.
[[nodiscard]] std::vector<Diagnostic> check_params(const Graph& graph, const ActorSpec& actor,
                                                   std::span<const ParamSpec> expected);

}  // namespace procactor::launcher
