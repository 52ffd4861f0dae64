// What every process the runtime starts (an actor, the guardian) gets from
// posix_spawn: the program's environment without the runtime's own
// variables plus its own, default signal dispositions and an empty mask.
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace procactor::detail {

class child_environment {
 public:
  // The program's environment less any PROCACTOR_* variable, then `extra`.
  explicit child_environment(std::vector<std::string> extra);
  child_environment(const child_environment&) = delete;
  child_environment& operator=(const child_environment&) = delete;
  [[nodiscard]] char** envp() noexcept { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

// posix_spawnattr_init, an empty signal mask and every signal at its
// default action, plus `flags` (POSIX_SPAWN_SETPGROUP, _SETSID, ...).
void init_spawn_attributes(posix_spawnattr_t& attr, short flags);

// Rewrites this process's command line (what ps and pgrep -f show) in
// place, as setproctitle does, truncated to the space the original had: a
// process forked without exec (the fork server, its actors) would show the
// supervising program's.
void set_command_line(const std::string& text);

// For a process or thread that could not be made: when `err` is EAGAIN,
// what limit that most likely is (the user's RLIMIT_NPROC, `ulimit -u`,
// with its value, or the machine's), as "; ..." to append to the message;
// otherwise "".
std::string process_limit_note(int err);

// How long the end of a run waits for a helper (the fork server, the
// guardian) to finish on its own before it SIGKILLs it: one stopped from
// outside (SIGSTOP, a debugger) would otherwise hold the run's end for ever.
constexpr int helper_grace_ms = 2000;

// Waits up to `ms` for this process's child `pid` to end and reaps it: true
// when it has (its wait status in `status`), false when it still runs.
bool reap_within(pid_t pid, int ms, int* status = nullptr) noexcept;

// Reaps the child `pid`, SIGKILLed when it has not ended within `ms`: true
// when it had to be killed.
bool reap_or_kill(pid_t pid, int ms) noexcept;

}  // namespace procactor::detail
