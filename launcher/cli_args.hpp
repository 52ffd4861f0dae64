// Arguments of the run-facing subcommands that need more than CLI11's
// built-in checks: `ACTOR[.N]` targets and `--signal SIG`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procactor::launcher {

// `worker` (every replica) or `worker.3` (replica 3 only).
struct ActorTarget {
  std::string name;
  std::optional<std::uint32_t> replica;

  friend bool operator==(const ActorTarget&, const ActorTarget&) = default;
};

[[nodiscard]] std::optional<ActorTarget> parse_actor_target(std::string_view text);
[[nodiscard]] std::string to_string(const ActorTarget& target);

// "TERM", "SIGTERM", "term" or "15"; nullopt for anything else. Names are
// limited to the signals it makes sense to send an actor.
[[nodiscard]] std::optional<int> parse_signal(std::string_view text);

}  // namespace procactor::launcher
