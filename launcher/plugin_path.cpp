#include "plugin_path.hpp"

#include <algorithm>
#include <cstdlib>
#include <system_error>

// The install's libdir as seen from its bindir ("../lib" with the default
// GNUInstallDirs); launcher/CMakeLists.txt sets it.
#ifndef PROCACTOR_BINDIR_TO_LIBDIR
#define PROCACTOR_BINDIR_TO_LIBDIR "../lib"
#endif

namespace procactor::launcher {

namespace {

std::filesystem::path absolute_normal(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path full = std::filesystem::absolute(path, error);
  return (error ? path : full).lexically_normal();
}

void add_unique(std::vector<std::filesystem::path>& paths, std::filesystem::path path) {
  if (std::find(paths.begin(), paths.end(), path) == paths.end()) {
    paths.push_back(std::move(path));
  }
}

}  // namespace

bool is_bare_plugin_name(std::string_view written) noexcept {
  return !written.empty() && written.find('/') == std::string_view::npos && written != "." && written != "..";
}

std::vector<std::filesystem::path> plugin_candidates(std::string_view written,
                                                     const std::filesystem::path& graph_directory,
                                                     std::string_view search_path,
                                                     const std::vector<std::filesystem::path>& library_directories) {
  const std::filesystem::path name{std::string(written)};
  std::vector<std::filesystem::path> candidates;
  if (!is_bare_plugin_name(written)) {
    // As before the search existed: relative to the graph file.
    candidates.push_back(absolute_normal(graph_directory / name));
    return candidates;
  }
  while (!search_path.empty()) {
    const std::size_t colon = search_path.find(':');
    const std::string_view entry = search_path.substr(0, colon);
    search_path = colon == std::string_view::npos ? std::string_view() : search_path.substr(colon + 1);
    if (!entry.empty()) {
      add_unique(candidates, absolute_normal(std::filesystem::path(std::string(entry)) / name));
    }
  }
  add_unique(candidates, absolute_normal(graph_directory / name));
  for (const auto& directory : library_directories) {
    add_unique(candidates, absolute_normal(directory / name));
  }
  return candidates;
}

PluginLookup find_plugin(std::string_view written, const std::filesystem::path& graph_directory,
                         std::string_view search_path,
                         const std::vector<std::filesystem::path>& library_directories) {
  PluginLookup lookup;
  lookup.bare = is_bare_plugin_name(written);
  lookup.looked = plugin_candidates(written, graph_directory, search_path, library_directories);
  for (const auto& candidate : lookup.looked) {
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error)) {
      lookup.path = candidate;
      lookup.found = true;
      return lookup;
    }
  }
  // Nothing there: the graph directory's candidate stands for the plugin
  // (for a path with a '/', the only one).
  lookup.path = absolute_normal(graph_directory / std::filesystem::path(std::string(written)));
  return lookup;
}

PluginLookup find_plugin(std::string_view written, const std::filesystem::path& graph_directory) {
  if (!is_bare_plugin_name(written)) {
    // No environment, no /proc/self/exe: neither plays a part.
    return find_plugin(written, graph_directory, {}, {});
  }
  const char* search_path = std::getenv("PROCACTOR_PLUGIN_PATH");
  return find_plugin(written, graph_directory, search_path != nullptr ? search_path : "", own_library_directories());
}

std::vector<std::filesystem::path> own_library_directories() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error || exe.empty()) {
    return {};
  }
  const std::filesystem::path bin = exe.parent_path();
  std::vector<std::filesystem::path> directories;
  add_unique(directories, (bin / "../lib").lexically_normal());
  add_unique(directories, (bin / PROCACTOR_BINDIR_TO_LIBDIR).lexically_normal());
  return directories;
}

}  // namespace procactor::launcher
