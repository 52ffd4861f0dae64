// What a signal to the supervising program leaves behind: nothing. Ctrl-C,
// kill(1), abort() and a fatal signal kill every actor's process group and
// the run's helpers, reap them (no zombie is left to init) and remove the
// run's shared memory before the signal takes its course; atexit removes
// the memory at a normal exit. Async-signal-safe state only.
#pragma once

#include <cstdint>
#include <string>

#include "arena.hpp"

namespace procactor::detail {

// Installs the handlers once per process, for the run named `run`
// (a handler the program installed itself is left alone).
void install_exit_paths(const std::string& run);
// The pid whose process group a fatal signal kills for `slot` (0: none).
void record_actor_pid(std::uint32_t slot, int pid) noexcept;
// A helper of the run (the fork server, the guardian, a spare), which a
// fatal signal kills and reaps too. Forgotten as soon as it is reaped (or
// has become an actor), before its pid can be another process's.
void record_helper_pid(int pid) noexcept;
void forget_helper_pid(int pid) noexcept;
// An actor's process group after its death was handled (its slot's pid is
// cleared then), until nothing of it is left to reap: its leader can still
// be exiting, not yet a zombie, or its strays be alive. A fatal signal
// kills and reaps it too.
void record_dying_group(int group) noexcept;
void forget_dying_group(int group) noexcept;
// True once a fatal signal's handler has begun killing the actors: their
// deaths are the program's end, not crashes to restart.
bool fatal_signal_arrived() noexcept;
// The run's segments are gone (normal shutdown): nothing left to remove.
void forget_run() noexcept;
// Removes the run's segments now (also from a failed start-up).
void remove_recorded_run() noexcept;

}  // namespace procactor::detail
