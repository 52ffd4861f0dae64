#include "graph_checks.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <variant>

#include "did_you_mean.hpp"

namespace procactor::launcher {

namespace {

using namespace std::string_view_literals;

constexpr std::array param_kind_names{
    "an integer"sv,           "a float"sv,           "a boolean"sv,           "a string"sv,
    "an array of integers"sv, "an array of floats"sv, "an array of booleans"sv, "an array of strings"sv,
};

// kind_of() maps a variant index straight to a ParamKind.
static_assert(std::variant_size_v<ParamValue> == param_kind_names.size());

}  // namespace

std::vector<Diagnostic> check_types(const Graph& graph, const std::vector<std::string>& known_types) {
  std::vector<Diagnostic> diagnostics;
  for (const ActorSpec& actor : graph.actors) {
    if (std::find(known_types.begin(), known_types.end(), actor.type) != known_types.end()) {
      continue;
    }
    std::string message = "unknown actor type '" + actor.type + "'" + did_you_mean(actor.type, known_types);
    if (graph.plugins.empty()) {
      message += "; no plugins are listed in [graph] plugins";
    }
    diagnostics.push_back(graph.source.error_at(actor.type_position, std::move(message)));
  }
  return diagnostics;
}

std::vector<Diagnostic> check_plugin_files(const Graph& graph) {
  std::vector<Diagnostic> diagnostics;
  for (const PluginSpec& plugin : graph.plugins) {
    std::error_code error;
    if (std::filesystem::is_regular_file(plugin.path, error)) {
      continue;
    }
    // The resolved path is the useful part: relative paths resolve against
    // the graph file, which is not always where the user thinks. It is shown
    // relative to the working directory, as the user's own paths are.
    const std::filesystem::path shown = std::filesystem::proximate(plugin.path, error);
    diagnostics.push_back(graph.source.error_at(
        plugin.position, "plugin '" + plugin.as_written + "' not found (looked for " +
                             (error ? plugin.path : shown).string() + ")"));
  }
  return diagnostics;
}

std::string_view to_string(ParamKind kind) noexcept {
  return param_kind_names.at(static_cast<std::size_t>(kind));
}

ParamKind kind_of(const ParamValue& value) noexcept {
  // The variant's alternatives are declared in ParamKind's order.
  return static_cast<ParamKind>(value.index());
}

std::vector<Diagnostic> check_params(const Graph& graph, const ActorSpec& actor, std::span<const ParamSpec> expected) {
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> expected_names;
  for (const ParamSpec& spec : expected) {
    expected_names.push_back(spec.name);
    const Param* param = actor.find_param(spec.name);
    if (param == nullptr) {
      if (spec.required) {
        diagnostics.push_back(graph.source.error_at(
            actor.params_position, "actor '" + actor.name + "' (" + actor.type + ") needs param '" + spec.name +
                                       "' (" + std::string(to_string(spec.kind)) + ")"));
      }
      continue;
    }
    if (kind_of(param->value) != spec.kind) {
      diagnostics.push_back(graph.source.error_at(
          param->position, "param '" + spec.name + "' of actor '" + actor.name + "' must be " +
                               std::string(to_string(spec.kind)) + ", not " +
                               std::string(to_string(kind_of(param->value)))));
    }
  }
  for (const Param& param : actor.params) {
    if (std::find(expected_names.begin(), expected_names.end(), param.name) == expected_names.end()) {
      diagnostics.push_back(graph.source.error_at(
          param.position, "unknown param '" + param.name + "' for " + actor.type +
                              did_you_mean(param.name, expected_names)));
    }
  }
  sort_by_position(diagnostics);
  return diagnostics;
}

}  // namespace procactor::launcher
