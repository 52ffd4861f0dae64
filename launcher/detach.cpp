#include "detach.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "commands.hpp"

namespace procactor::launcher {

namespace {

// The background process writes a byte here once every actor is spawned;
// the foreground one waits for it, or for the pipe to close (failure).
int g_ready_fd = -1;

}  // namespace

bool detach(const RunEntry& run, int& exit_code) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) {
    ::close(ready[1]);
    char byte = 0;
    ssize_t n;
    while ((n = ::read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    if (n != 1) {
      // The background process has ended; what it printed says why.
      std::cerr << "procactor: run " << run.name << " failed to start:\n";
      std::ifstream log(run.dir / "launch.log");
      std::cerr << log.rdbuf();
      exit_code = exit_failure;
      return true;
    }
    std::cout << "started run " << run.name << " (pid " << pid << ")\n"
              << "  procactor status " << run.name << "\n  procactor logs " << run.name << " -f\n"
              << "  procactor stop " << run.name << "\n";
    exit_code = exit_ok;
    return true;
  }
  ::close(ready[0]);
  g_ready_fd = ready[1];
  ::setsid();
  const int out = ::open((run.dir / "launch.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(out, STDERR_FILENO);
  return false;
}

void tell_foreground_ready() {
  if (g_ready_fd < 0) return;
  (void)!::write(g_ready_fd, "r", 1);
  ::close(g_ready_fd);
  g_ready_fd = -1;
  // From here on every line it prints is in run.log, which rotates:
  // launch.log keeps only what it printed while starting (what the
  // foreground shows if the start fails) and its standard error.
  std::cout.flush();
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::close(null);
  }
}

}  // namespace procactor::launcher
