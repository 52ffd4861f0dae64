#include "guardian.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "arena.hpp"
#include "exit_paths.hpp"
#include "fork_server.hpp"
#include "procactor/error.hpp"
#include "spawn_support.hpp"

namespace procactor::detail {

guardian start_guardian(const std::string& executable, const std::string& run, fork_server& forks) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw_system_error("pipe2 for the guardian", errno);
  guardian g;
  g.run = run;
  if (forks.running()) {
    // A clone of the fork server: no second load of the program, which on a
    // 2-CPU machine took the CPU the first actors' starts need.
    if (const int pid = forks.spawn_guardian(ends[0], run); pid > 0) {
      ::close(ends[0]);
      g.pid = pid;
      record_helper_pid(pid);
      g.pipe = ends[1];
      close_in_fork_copies(g.pipe);
      return g;
    }
  }
  child_environment env({"PROCACTOR_GUARDIAN=" + run});
  std::string name = "procactor-guardian";
  char* argv[] = {name.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, ends[0], STDIN_FILENO);
  posix_spawnattr_t attr;
  init_spawn_attributes(attr, POSIX_SPAWN_SETSID);
  const char* program = executable.empty() ? "/proc/self/exe" : executable.c_str();
  const int rc = posix_spawn(&g.pid, program, &actions, &attr, argv, env.envp());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(ends[0]);
  if (rc != 0) {
    ::close(ends[1]);
    throw error(errc::system, std::string("posix_spawn of the shared-memory guardian: ") + std::strerror(rc) +
                                  process_limit_note(rc));
  }
  record_helper_pid(g.pid);
  g.pipe = ends[1];
  close_in_fork_copies(g.pipe);
  return g;
}

void stop_guardian(guardian& g) noexcept {
  if (g.pipe >= 0) {
    keep_in_fork_copies(g.pipe);
    ::close(g.pipe);
  }
  g.pipe = -1;
  // One stopped from outside would never finish: killed after a grace, and
  // its work done here.
  if (g.pid > 0) {
    const bool killed = reap_or_kill(g.pid, helper_grace_ms);
    forget_helper_pid(g.pid);
    if (killed && !g.run.empty()) remove_run_segments(g.run.c_str());
  }
  g.pid = -1;
}

void run_guardian(const char* run) {
  prctl(PR_SET_NAME, "procactor-guard");
  // Nothing else of the program's may keep files or the terminal open here.
  for (int fd = 1; fd < 3; ++fd) {
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  char byte;
  while (::read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR) {
  }
  remove_run_segments(run);
  _exit(0);
}

}  // namespace procactor::detail
