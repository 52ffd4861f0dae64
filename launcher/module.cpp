#include "module.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include "plugin_path.hpp"

namespace procactor::launcher {

void* module_symbol(std::string_view file, const char* symbol) {
  std::string looked;
  for (const auto& directory : own_library_directories()) {
    const std::filesystem::path path = directory / file;
    looked += (looked.empty() ? "" : ", ") + directory.string();
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) continue;
    // RTLD_LOCAL: the module's libraries serve it alone.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw std::runtime_error("cannot load " + path.string() + ": " + (why != nullptr ? why : "unknown reason"));
    }
    void* address = ::dlsym(handle, symbol);
    if (address == nullptr) {
      throw std::runtime_error(path.string() + " has no " + symbol + ": it is not from this procactor's build");
    }
    return address;
  }
  throw std::runtime_error("cannot find " + std::string(file) + " (looked in " +
                           (looked.empty() ? std::string("no directory: /proc/self/exe is unreadable") : looked) +
                           "): reinstall procactor, or build it with `cmake --build`");
}

}  // namespace procactor::launcher
