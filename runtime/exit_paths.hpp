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

// A descriptor whose last close tells the run's helpers that the supervising
// program has ended: the guardian's pipe, the fork server's socket, the
// arena's lock. A fork() of the program without exec (one the program makes
// itself) gets copies of them, which would keep the helpers, the shared
// memory and the lock of a killed supervisor alive as long as that copy
// lives: leave_run_in_fork_copy() closes them there. Forgotten before its
// owner closes it, so that a reused number is never closed by mistake.
void close_in_fork_copies(int fd) noexcept;
void keep_in_fork_copies(int fd) noexcept;
// In a fork() copy of a process of the run, as it starts (pthread_atfork's
// child handler): closes those descriptors, forgets the run (the copy's exit
// removes nothing of it) and puts back the signal handlers this file put in
// place (a signal to the copy kills nothing of the run). A copy is not part
// of the run; its original goes on as before.
void leave_run_in_fork_copy() noexcept;

}  // namespace procactor::detail
