// SIGINT, SIGTERM and SIGHUP during `launch`: each asks the run to stop (a
// second one forces it). The handler only records the signal; the run's
// loop reads it from a pipe.
#pragma once

namespace procactor::launcher {

// Installs the handlers; before the Runtime is made, which then leaves
// these signals to us. A node of a multi-node run also takes SIGUSR1 (stop)
// and SIGUSR2 (stop now), which mpirun passes on to it.
// Elsewhere SIGPIPE (standard output closed: `launch G | head -1`) comes
// through the pipe once, as a request to stop in order.
void install_stop_signals(bool node = false);

// The read end of the pipe the handler writes each signal's number to.
[[nodiscard]] int stop_signal_fd() noexcept;

// True once any of them has arrived: a long start-up (a thousand spawns)
// checks it between two spawns.
[[nodiscard]] bool stop_signalled() noexcept;

}  // namespace procactor::launcher
