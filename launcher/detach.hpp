// `launch --detach`: the run goes on in a background process; the command
// returns once every actor of it is started, or says why it failed to start.
#pragma once

#include "run_dir.hpp"

namespace procactor::launcher {

// Forks into the background before any thread exists (never fork after).
// Returns true in the foreground process, which is done and whose exit code
// is in `exit_code`; false in the background one, which goes on to run the
// graph with its output in the run's launch.log.
[[nodiscard]] bool detach(const RunEntry& run, int& exit_code);

// In the background process, once every actor is spawned: lets the
// foreground one return. Does nothing in a run that was not detached, or
// the second time.
void tell_foreground_ready();

}  // namespace procactor::launcher
