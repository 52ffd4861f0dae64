// The client side of a run's control channel, shared by the subcommands
// that talk to a running supervisor (status, stop, restart, kill, inspect).
#pragma once

#include <optional>
#include <string>

#include "control_protocol.hpp"
#include "run_dir.hpp"

namespace procactor::launcher {

// The run named `name` (or the default one); prints why not, with the exit
// code in `code`: 3 (no such run), or 2 when no name was given and several
// runs are live.
[[nodiscard]] std::optional<RunEntry> resolve(const std::optional<std::string>& name, int& code);

// The run as it is now (it may have ended since it was looked up).
[[nodiscard]] RunEntry refreshed(const RunEntry& run);

// For a run that is not live: why, on stderr, and the exit code. A run
// that ended is no run to act on (3); one whose supervisor died is a
// failure (1).
[[nodiscard]] int report_not_live(const RunEntry& run);

// Asks a run something; prints why not and sets `code` when there is no answer.
[[nodiscard]] std::optional<std::string> ask(const RunEntry& run, const ControlRequest& request, int& code);

}  // namespace procactor::launcher
