// The requests of the control channel (the run's Unix socket), as text.
//
// A client sends one line and reads the reply until the server closes:
//   ping                     -> "pong"
//   status [CLIENT]          -> one JSON object: {"run", "graph", "actors": [...]};
//                               rates and CPU % since CLIENT's previous
//                               status (a name of 1 to 32 letters, digits,
//                               '-' or '_', starting with a letter or
//                               digit), or over each incarnation's uptime
//                               without one
//   stop [TIMEOUT_NS]        -> "ok": the graph stops in order; what still runs
//                               after TIMEOUT_NS (default: the graph's
//                               shutdown_timeout) is killed
//   restart ACTOR[.N] [force | drain]
//                            -> "ok: restarting NAME (pid P) ...": graceful
//                               by default (the actor stops
//                               after the message in hand and runs on_stop);
//                               force: SIGKILL at once; drain: what is queued
//                               is handled first
//   kill ACTOR[.N] [SIGNAL]  -> "ok: sent SIGTERM to NAME (pid P), ..."; SIGNAL
//                               is a name (TERM, SIGTERM) or a number, KILL
//                               by default
//   inspect ACTOR[.N]        -> one JSON object: each instance's last exits
//                               and dead letters (run_inspect.hpp)
//   scale ACTOR N            -> "ok: ..." once ACTOR has N replicas running
//                               (new ones started and in their senders'
//                               routes) or on their way out (out of the
//                               routes, closed: they handle what is queued)
// Anything else gets one line "error: ..." naming what is wrong.
//
// Parsing is a pure function so that it can be unit-tested and fuzzed: it
// takes any bytes and never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cli_args.hpp"

namespace procactor::launcher {

// Longer request lines are refused. The longest valid one is
// "restart NAME.N force" with a 63-byte name: far below.
inline constexpr std::size_t max_request_bytes = 1024;
// The longest client name of `status CLIENT`.
inline constexpr std::size_t max_client_bytes = 32;

struct ControlRequest {
  enum class Verb : std::uint8_t { ping, status, stop, restart, kill, inspect, scale };
  Verb verb = Verb::ping;
  std::optional<std::chrono::nanoseconds> stop_timeout;  // stop: absent means the graph's own
  ActorTarget target;                                     // restart, kill, inspect, scale (no .N)
  int signal = 0;                                         // kill
  bool force = false;                                     // restart: SIGKILL, no on_stop
  bool drain = false;                                     // restart: handle what is queued first
  std::string client{};                                   // status: whose previous sample rates are since
  std::uint32_t replicas = 0;                             // scale: how many from now on

  friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};

// One request line, without its newline (a trailing '\r' is tolerated).
// Either the request or the reason it is refused, which reads well after
// "error: ".
[[nodiscard]] std::variant<ControlRequest, std::string> parse_control_request(std::string_view line) noexcept;

// The line that parse_control_request() reads back as `request`.
[[nodiscard]] std::string to_request_line(const ControlRequest& request);

}  // namespace procactor::launcher
