#include "registry.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <unordered_map>

namespace procactor::detail {
namespace {

struct registries {
  std::mutex mutex;
  std::unordered_map<type_id, std::string> message_names;
  // A PROCACTOR_MESSAGE type's size and the module (executable or shared
  // object) that registered it first.
  std::unordered_map<type_id, std::pair<std::size_t, std::string>> message_layouts;
  // Each actor type's factory, and the module that registered it.
  std::map<std::string, std::pair<actor_factory, std::string>, std::less<>> actor_types;
  // Types two modules define, each said once (registration_conflicts).
  std::vector<std::string> conflicts;
  std::map<std::string, parameters_fn, std::less<>> actor_parameters;
  std::unordered_map<type_id, std::pair<std::string, function_invoker>> functions;
  std::unordered_map<std::uintptr_t, type_id> function_ids;
  std::vector<std::string> plugins;
};

// A function-local static: registration runs during other translation units'
// static initialisation, whose order relative to ours is unspecified.
registries& get() {
  static registries r;
  return r;
}

}  // namespace

bool register_message_name(type_id id, std::string_view name) noexcept {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  auto [it, inserted] = r.message_names.emplace(id, std::string(name));
  if (!inserted && it->second != name) {
    std::fprintf(stderr, "procactor: message names '%s' and '%.*s' hash to the same wire id\n",
                 it->second.c_str(), static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return true;
}

// The file of the module (the executable, a library, a plugin) that holds
// `address`.
std::string module_of(const void* address) {
  Dl_info info{};
  if (::dladdr(address, &info) == 0 || info.dli_fname == nullptr || *info.dli_fname == '\0') return "the program";
  return info.dli_fname;
}

bool register_message(type_id id, std::string_view name, std::size_t size, const void* where) noexcept {
  register_message_name(id, name);
  auto& r = get();
  std::lock_guard guard(r.mutex);
  try {
    const std::string origin = module_of(where);
    auto [it, inserted] = r.message_layouts.emplace(id, std::pair{size, origin});
    if (!inserted && it->second.first != size) {
      r.conflicts.push_back("message type " + std::string(name) +
                            " is defined twice, differently: " + std::to_string(it->second.first) + " bytes in " +
                            it->second.second + ", " + std::to_string(size) + " bytes in " + origin);
    }
  } catch (...) {  // out of memory at start-up: the check is lost, not the program
  }
  return true;
}

// The conflicts found since the `from`th, "; "-joined; with r.mutex held.
std::string conflicts_since(const registries& r, std::size_t from) {
  std::string text;
  for (std::size_t i = from; i < r.conflicts.size(); ++i) text += (i == from ? "" : "; ") + r.conflicts[i];
  return text;
}

std::string registration_conflicts() {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  return conflicts_since(r, 0);
}

std::string actor_type_name(std::string_view spelled) {
  std::string name;
  for (std::size_t i = 0; i < spelled.size(); ++i) {
    if (spelled[i] == ':' && i + 1 < spelled.size() && spelled[i + 1] == ':') {
      name += '.';
      ++i;
    } else if (spelled[i] != ' ') {
      name += spelled[i];
    }
  }
  return name;
}

bool register_actor_type(std::string_view spelled, actor_factory factory, parameters_fn parameters) noexcept {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  try {
    const std::string name = actor_type_name(spelled);
    const std::string origin = module_of(reinterpret_cast<const void*>(factory));
    const auto [it, inserted] = r.actor_types.try_emplace(name, factory, origin);
    if (!inserted) {
      // The same PROCACTOR_ACTOR seen twice in one module is harmless; from
      // two, which one a spawn would make depends on load order: the first
      // stays, and the conflict is refused (registration_conflicts).
      const std::string& first = it->second.second;
      if (first != origin)
        r.conflicts.push_back("actor type " + name + " is registered twice: by " + first + " and by " + origin);
      return true;
    }
    if (parameters != nullptr) r.actor_parameters[name] = parameters;
  } catch (...) {
  }
  return true;
}

actor_factory find_actor_type(std::string_view name) {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  auto it = r.actor_types.find(name);
  return it == r.actor_types.end() ? nullptr : it->second.first;
}

std::vector<std::string> actor_type_names() {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  std::vector<std::string> names;
  for (const auto& entry : r.actor_types) names.push_back(entry.first);
  return names;
}

bool register_function(std::string_view name, std::uintptr_t address, function_invoker invoker) noexcept {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  const type_id id = fnv1a64(name);
  r.functions[id] = {std::string(name), invoker};
  r.function_ids[address] = id;
  return true;
}

type_id function_id(std::uintptr_t address) {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  auto it = r.function_ids.find(address);
  if (it == r.function_ids.end()) {
    throw error(errc::unknown_function, "submit() of a function not registered with PROCACTOR_FUNCTION");
  }
  return it->second;
}

function_invoker find_function(type_id id) {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  auto it = r.functions.find(id);
  return it == r.functions.end() ? nullptr : it->second.second;
}

std::string loaded_plugins() {
  auto& r = get();
  std::lock_guard guard(r.mutex);
  std::string joined;
  for (const auto& path : r.plugins) joined += (joined.empty() ? "" : ":") + path;
  return joined;
}

void load_plugins(std::string_view colon_separated) {
  std::size_t start = 0;
  while (start <= colon_separated.size()) {
    const std::size_t end = std::min(colon_separated.find(':', start), colon_separated.size());
    if (end > start) Runtime::load_plugin(std::string(colon_separated.substr(start, end - start)));
    start = end + 1;
  }
}

}  // namespace procactor::detail

namespace procactor {
namespace {

// A plugin whose static initialisation throws ends the program in dlopen
// (the exception cannot cross the loader): while one loads, a terminate
// handler says which plugin it was and what it threw before the abort.
thread_local const std::string* loading_plugin = nullptr;
std::terminate_handler previous_terminate = nullptr;

[[noreturn]] void terminate_in_plugin() {
  if (loading_plugin != nullptr) {
    std::string what = "an exception";
    try {
      if (const auto current = std::current_exception()) std::rethrow_exception(current);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "procactor: cannot load plugin %s: its static initialisation threw: %s\n",
                 loading_plugin->c_str(), what.c_str());
    std::fflush(stderr);
  }
  if (previous_terminate != nullptr) previous_terminate();
  std::abort();
}

struct plugin_initialisation {
  explicit plugin_initialisation(const std::string& path) {
    loading_plugin = &path;
    previous_terminate = std::set_terminate(terminate_in_plugin);
  }
  ~plugin_initialisation() {
    std::set_terminate(previous_terminate);
    loading_plugin = nullptr;
  }
  plugin_initialisation(const plugin_initialisation&) = delete;
  plugin_initialisation& operator=(const plugin_initialisation&) = delete;
};

}  // namespace

void Runtime::load_plugin(const std::string& path) {
  auto& r = detail::get();
  {
    std::lock_guard guard(r.mutex);
    for (const auto& loaded : r.plugins) {
      if (loaded == path) return;
    }
  }
  std::size_t conflicts_before = 0;
  {
    std::lock_guard guard(r.mutex);
    conflicts_before = r.conflicts.size();
  }
  // RTLD_GLOBAL: a plugin's message names and types must be the same objects
  // as the executable's, and its static registrations run during dlopen.
  void* handle = nullptr;
  {
    const plugin_initialisation watched(path);
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  }
  if (handle == nullptr) throw error(errc::system, std::string("cannot load plugin: ") + dlerror());
  std::lock_guard guard(r.mutex);
  r.plugins.push_back(path);
  if (r.conflicts.size() > conflicts_before) {
    throw error(errc::invalid_argument,
                "cannot use plugin " + path + ": " + detail::conflicts_since(r, conflicts_before));
  }
}

std::string_view message_name(type_id id) noexcept {
  auto& r = detail::get();
  std::lock_guard guard(r.mutex);
  if (auto it = r.message_names.find(id); it != r.message_names.end()) return it->second;
  // A Pool's tasks (pool.hpp): the function they call is in their payload
  // (task_name()).
  if (id == detail::task_type) return "procactor.task";
  if (id == detail::chunk_type) return "procactor.chunk";
  return {};
}

namespace detail {

std::string task_name(type_id type, std::span<const std::byte> payload) {
  std::string name(message_name(type));
  if ((type != task_type && type != chunk_type) || payload.size() < sizeof(std::uint64_t)) return name;
  // Both start with the function's id, a cereal uint64 (8 raw bytes).
  std::uint64_t function = 0;
  std::memcpy(&function, payload.data(), sizeof function);
  auto& r = get();
  std::lock_guard guard(r.mutex);
  auto it = r.functions.find(function);
  return it == r.functions.end() ? name : name + "(" + it->second.first + ")";
}

}  // namespace detail

std::vector<std::string> Runtime::actor_types() { return detail::actor_type_names(); }

std::optional<std::vector<ParamSpec>> Runtime::actor_parameters(std::string_view type) {
  detail::parameters_fn parameters = nullptr;
  {
    auto& r = detail::get();
    std::lock_guard guard(r.mutex);
    auto it = r.actor_parameters.find(type);
    if (it == r.actor_parameters.end()) return std::nullopt;
    parameters = it->second;
  }
  return parameters();
}

}  // namespace procactor
