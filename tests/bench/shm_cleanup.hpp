// Nothing of the benchmark's own left in /dev/shm, on any exit path.
//
// A Boost message_queue is a named POSIX shared-memory object, i.e. a file
// /dev/shm/NAME that outlives every process unless someone unlinks it. The
// paths are covered like this:
//   - normal return and exceptions: the owning object's destructor removes it;
//   - SIGINT / SIGTERM / SIGHUP: a handler unlinks every tracked name, then
//     hands the signal to whatever handler was installed before (the runtime's
//     own, or the default action);
//   - a hung peer: a watchdog (SIGALRM) unlinks, says what hung, and exits;
//   - SIGKILL of the benchmark: nothing can run, so the next start sweeps
//     names whose embedded pid is no longer alive.
// The children never create or remove anything; they only open.
#pragma once

#include <string>
#include <string_view>

namespace procactor_bench {

// "procactor-bench-<pid>-<64 random bits>-<role>": unguessable, unique per
// run, and it carries the owner's pid for the start-up sweep.
std::string unique_shm_name(std::string_view role);

// Removes /dev/shm/procactor-bench-<pid>-* left behind by dead processes.
// Returns how many were removed.
int sweep_stale_shm();

// Adds / removes `name` from the set the signal handlers unlink. At most a
// handful of names are live at once; track() throws past that.
void track_shm_name(const std::string& name);
void untrack_shm_name(const std::string& name) noexcept;

// The same on-signal cleanup for what a `procactor launch` child leaves:
// its private temporary directory (removed with its contents) and its
// runtime's arena, /dev/shm/procactor-<launcher pid>-* (the launcher dies
// with us through PR_SET_PDEATHSIG, too abruptly to remove it). One of each
// at a time; tracking another replaces it. Both paths must be short (< 192).
void track_temp_dir(const std::string& path);
void untrack_temp_dir() noexcept;
void track_launcher_pid(long pid) noexcept;
void untrack_launcher_pid() noexcept;

// Removes `dir` and everything under it with plain system calls (no
// allocation), as the signal handlers do. False if anything is left.
bool remove_tree(const char* dir) noexcept;
// Unlinks /dev/shm/procactor-<pid>-*: the arena of procactor runtime `pid`.
void remove_runtime_arena_of(long pid) noexcept;

// While alive, SIGINT/SIGTERM/SIGHUP unlink the tracked names before the
// previous disposition runs. Restores the previous handlers on destruction.
class scoped_shm_signal_cleanup {
 public:
  scoped_shm_signal_cleanup();
  ~scoped_shm_signal_cleanup();
  scoped_shm_signal_cleanup(const scoped_shm_signal_cleanup&) = delete;
  scoped_shm_signal_cleanup& operator=(const scoped_shm_signal_cleanup&) = delete;
};

// Blocking calls on a Boost queue cannot time out on a dead peer (its
// condition variable is never signalled), so each measurement runs under a
// deadline. On expiry: unlink the tracked names, print what hung, and end
// the process as SIGTERM does. The children die with us (PR_SET_PDEATHSIG).
class scoped_watchdog {
 public:
  scoped_watchdog(unsigned seconds, const char* what);
  ~scoped_watchdog();
  scoped_watchdog(const scoped_watchdog&) = delete;
  scoped_watchdog& operator=(const scoped_watchdog&) = delete;
};

}  // namespace procactor_bench
