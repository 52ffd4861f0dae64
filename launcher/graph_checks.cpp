#include "graph_checks.hpp"

#include <algorithm>
#include <filesystem>

#include "did_you_mean.hpp"

namespace procactor::launcher {

std::vector<Diagnostic> check_types(const Graph& graph, const std::vector<std::string>& known_types,
                                    const std::vector<std::string>& typeless_plugins) {
  std::vector<Diagnostic> diagnostics;
  for (const ActorSpec& actor : graph.actors) {
    // No type, or one that is not a string: the file's own check says so,
    // at the actor.
    if (actor.type.empty() || std::find(known_types.begin(), known_types.end(), actor.type) != known_types.end()) {
      continue;
    }
    std::string message = "unknown actor type '" + actor.type + "'" + did_you_mean(actor.type, known_types);
    if (graph.plugins.empty()) {
      message += "; no plugins are listed in [graph] plugins";
    }
    // A plugin built without PROCACTOR_ACTOR (or whose registrations the
    // linker dropped) loads without complaint: say so where it matters.
    for (const std::string& plugin : typeless_plugins) {
      message += "; plugin '" + plugin + "' registers no actor type (PROCACTOR_ACTOR(ns::Type) registers one)";
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
    // relative to the working directory, as the user's own paths are. A bare
    // file name was searched (plugin_path.hpp): every place looked is named,
    // those outside the working directory in full.
    const bool searched = !plugin.looked.empty();
    const auto show = [searched](const std::filesystem::path& path) {
      std::error_code proximate_error;
      const std::filesystem::path shown = std::filesystem::proximate(path, proximate_error);
      if (proximate_error || (searched && !shown.empty() && *shown.begin() == "..")) return path.string();
      return shown.string();
    };
    if (std::filesystem::is_directory(plugin.path, error)) {
      std::filesystem::path directory = plugin.path;
      if (!directory.has_filename()) directory = directory.parent_path();
      diagnostics.push_back(graph.source.error_at(
          plugin.position, "plugin '" + plugin.as_written + "' is a directory (" + show(directory) +
                               "), not a plugin file; name the .so file in it"));
      continue;
    }
    std::string looked;
    for (const auto& place : searched ? plugin.looked : std::vector{plugin.path}) {
      looked += (looked.empty() ? "" : ", ") + show(place);
    }
    diagnostics.push_back(graph.source.error_at(
        plugin.position, "plugin '" + plugin.as_written + "' not found (looked for " + looked + ")" +
                             (searched ? "; PROCACTOR_PLUGIN_PATH adds directories to look in" : "")));
  }
  return diagnostics;
}

std::vector<Diagnostic> check_params(const Graph& graph, const ActorSpec& actor, std::span<const procactor::ParamSpec> expected) {
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> expected_names;
  for (const procactor::ParamSpec& spec : expected) {
    expected_names.push_back(spec.name);
    const Param* param = actor.find_param(spec.name);
    if (param == nullptr) {
      if (spec.required) {
        diagnostics.push_back(graph.source.error_at(
            actor.params_position, "actor '" + actor.name + "' (" + actor.type + ") needs param '" + spec.name +
                                       "' (" + std::string(procactor::describe(spec.kind)) + ")"));
      }
      continue;
    }
    if (const std::string problem = procactor::param_problem(spec, param->value); !problem.empty()) {
      diagnostics.push_back(graph.source.error_at(
          param->position, "param '" + spec.name + "' of actor '" + actor.name + "' " + problem));
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

std::optional<std::string> needs_mpi_error(const Graph& graph, bool built_with_mpi) {
  if (built_with_mpi || !graph.cluster || only_node(graph)) return std::nullopt;
  std::string message = "graph ";
  message += graph.name;
  message += " is placed on ";
  message += std::to_string(graph.cluster->nodes.size());
  message +=
      " nodes, and this procactor was built without MPI (PROCACTOR_WITH_MPI=OFF): install openmpi-bin and "
      "libopenmpi-dev, then configure and build again with "
      "`cmake -S . -B build -DPROCACTOR_WITH_MPI=ON && cmake --build build`";
  return message;
}

}  // namespace procactor::launcher
