// test-no-leftovers COMMAND [ARGS...]: runs a test binary and fails if the
// run left anything behind once it has exited: a process (alive or a zombie)
// or a /dev/shm segment named after it ("procactor-<its pid>-*").
//
// This program makes itself a child subreaper first, so every descendant the
// test binary orphans is re-parented here, where it can be seen and reaped.
// Leftovers are reported, then killed and removed, so a failing run does not
// pollute the next one.
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "probe.hpp"

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("prctl(PR_SET_CHILD_SUBREAPER)");
    return 2;
  }
  pid_t child = 0;
  if (const int rc = posix_spawnp(&child, argv[1], nullptr, nullptr, argv + 1, environ); rc != 0) {
    std::fprintf(stderr, "cannot start %s: error %d\n", argv[1], rc);
    return 2;
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  // The child's orphans were re-parented here before waitpid returned.
  int leftovers = 0;
  for (const auto& p : probe::children_of(::getpid())) {
    std::fprintf(stderr, "test-no-leftovers: process %d (%s, state %c) outlived %s\n", p.pid, p.command.c_str(),
                 p.state, argv[1]);
    ::kill(p.pid, SIGKILL);
    ++leftovers;
  }
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
  for (const auto& name : probe::run_segments(child)) {
    std::fprintf(stderr, "test-no-leftovers: /dev/shm/%s outlived %s\n", name.c_str(), argv[1]);
    probe::remove_segment(name);
    ++leftovers;
  }
  if (leftovers != 0 && code == 0) code = 1;
  if (leftovers == 0) std::fprintf(stderr, "test-no-leftovers: no process and no /dev/shm segment left\n");
  return code;
}
