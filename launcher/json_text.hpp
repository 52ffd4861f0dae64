// JSON as text, for every reply, record and page the launcher writes.
//
// What actors print goes into it (log tails, stderr with a crash's trace,
// exit reasons), and an actor may print any bytes: a byte that is not
// UTF-8 becomes U+FFFD instead of failing the whole reply.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace procactor::launcher {

[[nodiscard]] inline std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace procactor::launcher
