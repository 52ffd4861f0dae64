// Process-wide registries filled at static-initialisation time by
// PROCACTOR_MESSAGE, PROCACTOR_ACTOR and PROCACTOR_FUNCTION, and by plugins.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "procactor/actor.hpp"
#include "procactor/pool.hpp"

namespace procactor::detail {

actor_factory find_actor_type(std::string_view name);
std::vector<std::string> actor_type_names();
// Actor types registered by two modules, and message types defined in two
// ways, as sentences "; "-joined in the order they were found; "" if none.
std::string registration_conflicts();
function_invoker find_function(type_id id);
// The plugins loaded so far, ':'-joined, for the children's environment.
std::string loaded_plugins();
void load_plugins(std::string_view colon_separated);
// message_name(type), and for a Pool's task the function it calls:
// "procactor.task(fn)"; for dead letters.
std::string task_name(type_id type, std::span<const std::byte> payload);

}  // namespace procactor::detail
