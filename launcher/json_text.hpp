// JSON as text, for every reply, record and page the launcher writes.
//
// What actors print goes into it (log tails, stderr with a crash's trace,
// exit reasons), and an actor may print any bytes: a byte that is not
// UTF-8 becomes U+FFFD instead of failing the whole reply.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace procactor::launcher {

// Any nlohmann JSON type: an ordered_json keeps its keys' order.
template <class Json>
[[nodiscard]] std::string json_text(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace procactor::launcher
