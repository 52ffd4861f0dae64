// The guardian: a small process that outlives its supervisor and removes the
// run's shared memory when the supervisor dies by SIGKILL, the one exit that
// runs none of the supervisor's own cleanup.
//
// The supervisor starts it first thing: the fork server clones it, a copy of
// the program as it was before any thread, which need not load it again;
// without a fork server the supervisor re-executes its own program with
// PROCACTOR_GUARDIAN=<run> (never fork without exec: the user's program may
// have threads). The guardian's standard input is the read end of a pipe
// whose only write end the supervisor holds (close-on-exec, so no actor
// inherits it). The guardian sleeps in read(); the kernel closes the write
// end however the supervisor ends, read() returns, and the guardian unlinks
// every segment named after the run and exits. It runs in a session of its
// own, so a Ctrl-C at the terminal does not reach it, and it does not die
// with its parent (no PR_SET_PDEATHSIG), which is the point.
//
// Killed from outside, it is replaced at once (its pidfd is in the
// supervisor's epoll set), but not in no time: where there is a fork
// server, the server removes the run's segments too when the supervisor
// dies (fork_server.hpp), so that a kill -9 of the guardian and then of
// the supervisor, back to back, leaves nothing. Without a fork server
// (exec mode, or the server killed first) the guardian is alone.
#pragma once

#include <sys/types.h>

#include <string>

namespace procactor::detail {

struct guardian {
  int pipe = -1;  // the write end; closing it lets the guardian finish
  pid_t pid = -1;
  std::string run;  // whose segments it removes; stop_guardian does when it had to kill it
};

class fork_server;

// Starts the guardian of the run whose segments are named `run...`, through
// `forks` where it runs; throws error when it cannot.
guardian start_guardian(const std::string& executable, const std::string& run, fork_server& forks);
// Closes the pipe and reaps the guardian (it exits at once).
void stop_guardian(guardian& g) noexcept;
// The guardian process's whole life.
[[noreturn]] void run_guardian(const char* run);

}  // namespace procactor::detail
