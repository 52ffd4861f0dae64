// Where a plugin named in a graph's [graph] plugins is looked for.
//
// A path with a '/' in it (absolute, "./x.so", "../../build/lib/x.so") is
// what it was before this lookup existed: resolved against the graph file's
// directory, one place, no search. A bare file name ("libprocactor_examples.so")
// is searched, first match wins, in:
//
//   1. each directory of $PROCACTOR_PLUGIN_PATH (colon-separated; empty
//      entries are skipped, relative ones are taken from the working
//      directory),
//   2. the graph file's directory,
//   3. the library directory of the running `procactor`: <exe dir>/../lib,
//      which is build/lib in a build tree (build/bin/procactor) and
//      PREFIX/lib in an installed one (PREFIX/bin/procactor), and
//      <exe dir>/<bindir-to-libdir> where the install's libdir is another
//      (lib64, lib/x86_64-linux-gnu).
//
// so an example graph can name its plugin by file name and run from any
// build directory, an installed tree or an extracted .deb. When nothing is
// found, every place looked is kept for the error message.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace procactor::launcher {

struct PluginLookup {
  // The file found; when none was, the first place a path with a '/' names
  // or, for a bare name, the graph directory's candidate (what a plugin
  // loader would try, and what the golden diagnostics showed before).
  std::filesystem::path path;
  // Every place looked, in order: one for a path with a '/'.
  std::vector<std::filesystem::path> looked;
  bool found = false;
  bool bare = false;  // written as a file name alone: searched
};

// True for "libx.so", false for anything with a '/'.
[[nodiscard]] bool is_bare_plugin_name(std::string_view written) noexcept;

// The candidates, in search order, without touching the file system (all
// absolute and lexically normal; duplicates removed, first kept).
[[nodiscard]] std::vector<std::filesystem::path> plugin_candidates(
    std::string_view written, const std::filesystem::path& graph_directory, std::string_view search_path,
    const std::vector<std::filesystem::path>& library_directories);

// plugin_candidates(), then the first that is a regular file.
[[nodiscard]] PluginLookup find_plugin(std::string_view written, const std::filesystem::path& graph_directory,
                                       std::string_view search_path,
                                       const std::vector<std::filesystem::path>& library_directories);

// The same with this process's $PROCACTOR_PLUGIN_PATH and library
// directories: what `procactor` itself does.
[[nodiscard]] PluginLookup find_plugin(std::string_view written, const std::filesystem::path& graph_directory);

// The library directories of the running executable (/proc/self/exe):
// <exe dir>/../lib, then <exe dir>/<the install's bindir-to-libdir> when it
// differs. Empty when /proc/self/exe cannot be read.
[[nodiscard]] std::vector<std::filesystem::path> own_library_directories();

}  // namespace procactor::launcher
