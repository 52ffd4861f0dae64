// procactor::Route — an outgoing edge of an actor in a graph.
//
// An actor sends along its routes with emit(msg) without knowing who is on
// the other end; the launcher (or whoever spawns it) says where they lead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace procactor {

enum class RoutePolicy : std::uint8_t {
  round_robin,  // each message to the next target in turn
  broadcast,    // each message to every target
  key_hash,     // same key, same target: emit(msg, key) or msg.key()
  random,
  // Each message to the target with the fewest messages of this actor not
  // yet handled, among those with fewer than two (one in its handler, one
  // waiting); when every target has two, the sender waits (on a futex) for
  // one to finish one. Work goes to whoever is free, as in a pool.
  least_loaded,
};

std::string_view to_string(RoutePolicy policy) noexcept;

struct Route {
  std::vector<std::string> targets;  // actor names, resolved on first emit
  RoutePolicy policy = RoutePolicy::round_robin;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(targets, policy);
  }
};

}  // namespace procactor
