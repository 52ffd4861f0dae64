// The parts of `procactor` that few runs use and that bring many libraries
// with them are modules, loaded with dlopen only when a command needs them:
//
//   libprocactor_mpi.so        the gateway of a node of a multi-node run
//                              (Open MPI: 7 libraries), by `procactor node`
//   libprocactor_dashboard.so  the dashboard's HTTP server (cpp-httplib,
//                              OpenSSL, zlib, brotli: 7 libraries), by
//                              `launch --http` and `procactor dashboard`
//
// Every actor of a run is a fork of the launcher (the fork server), so
// what the launcher maps every actor maps too: a launcher without those 14
// libraries forks faster and its actors start with fewer pages to fault in.
// A module is looked for in the library directories of the running
// executable (plugin_path.hpp: build/lib in a build tree, the libdir of an
// installed one), and stays loaded until the process ends.
#pragma once

#include <string_view>

namespace procactor::launcher {

// The address of `symbol` in module `file`; throws std::runtime_error
// naming the file, every place looked and the loader's reason.
[[nodiscard]] void* module_symbol(std::string_view file, const char* symbol);

template <class Function>
[[nodiscard]] Function* module_function(std::string_view file, const char* symbol) {
  return reinterpret_cast<Function*>(module_symbol(file, symbol));
}

}  // namespace procactor::launcher
