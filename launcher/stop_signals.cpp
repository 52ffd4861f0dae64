#include "stop_signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>

namespace procactor::launcher {

namespace {

int g_signal_pipe[2] = {-1, -1};
volatile sig_atomic_t g_signalled = 0;

void on_stop_signal(int sig) {
  g_signalled = 1;
  const char byte = static_cast<char>(sig);
  (void)!::write(g_signal_pipe[1], &byte, 1);
}

// Standard output closed under the launch (`launch G | head -1`): the first
// write after it raises SIGPIPE, and every later one would. Told once.
volatile sig_atomic_t g_pipe_broken = 0;

void on_broken_pipe(int) {
  if (g_pipe_broken != 0) return;
  g_pipe_broken = 1;
  const char byte = static_cast<char>(SIGPIPE);
  (void)!::write(g_signal_pipe[1], &byte, 1);
}

}  // namespace

void install_stop_signals(bool node) {
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  // mpirun passes SIGUSR1 and SIGUSR2 on to every rank: the launcher's
  // first Ctrl-C (stop in order) and its second (stop now).
  if (node) {
    for (int sig : {SIGUSR1, SIGUSR2}) sigaction(sig, &action, nullptr);
  } else {
    // SIGPIPE's default would kill the supervisor, and the graph with it,
    // with no ordered stop: the run stops in order instead.
    struct sigaction pipe_action {};
    pipe_action.sa_handler = on_broken_pipe;
    sigemptyset(&pipe_action.sa_mask);
    sigaction(SIGPIPE, &pipe_action, nullptr);
  }
}

int stop_signal_fd() noexcept { return g_signal_pipe[0]; }

bool stop_signalled() noexcept { return g_signalled != 0; }

}  // namespace procactor::launcher
