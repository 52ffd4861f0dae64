#include "procactor/error.hpp"

#include <cstring>

namespace procactor {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::timeout: return "timeout";
    case errc::handler_threw: return "handler threw";
    case errc::actor_died: return "actor died";
    case errc::no_such_actor: return "no such actor";
    case errc::full: return "full";
    case errc::closed: return "closed";
    case errc::too_large: return "too large";
    case errc::decode_failed: return "decode failed";
    case errc::unknown_message: return "unknown message";
    case errc::poisoned: return "poisoned";
    case errc::unknown_function: return "unknown function";
    case errc::arena_exhausted: return "arena exhausted";
    case errc::system: return "system error";
    case errc::not_supervisor: return "not the supervisor";
    case errc::corrupt: return "corrupt shared memory";
    case errc::type_mismatch: return "type mismatch";
    case errc::cancelled: return "cancelled";
    case errc::invalid_argument: return "invalid argument";
  }
  return "unknown error";
}

void throw_system_error(std::string_view call, int err) {
  throw error(errc::system, std::string(call) + ": " + std::strerror(err));
}

}  // namespace procactor
