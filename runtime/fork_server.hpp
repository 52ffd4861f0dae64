// The fork server: a single-threaded helper the supervisor forks before it
// starts any thread, that forks actor processes on request. An actor then
// starts from an already loaded, already initialised copy of the program
// instead of a posix_spawn + exec (dynamic loading, relocation, static
// initialisation): that is most of a restart's time.
//
// The server creates each actor with clone(CLONE_PARENT), so the actor's
// parent is the supervisor itself: reaping, pidfds, PR_SET_PDEATHSIG
// (which then fires when the supervisor thread that made the Runtime
// exits) and the subreaper work as for an exec'd actor. The server has its
// own process group (Ctrl-C does not reach it), keeps no descriptor but its
// socket, and dies with the supervisor.
//
// The server keeps one spare: a child made ahead of need, already in its
// own process group with default signal dispositions, that waits for the
// next request and becomes that actor. The fork, which costs a millisecond
// or more on a virtual machine, is then off the path of a start or a
// restart: the server makes the next spare after it has answered. The
// spare is the supervisor's child too (procactor-spare in ps); the server
// tells the supervisor its pid when requests end, so it is reaped.
//
// Memory: the server is a copy-on-write image of the program as it was
// when the Runtime was made; each actor is the same image plus what it
// touches. Options::fork_server = false (or PROCACTOR_SPAWN=exec in the
// environment) starts every actor with posix_spawn + exec instead.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace procactor::detail {

class fork_server {
 public:
  fork_server() = default;
  fork_server(const fork_server&) = delete;
  fork_server& operator=(const fork_server&) = delete;
  ~fork_server();

  // Forks the server; false (and nothing running) when it could not.
  bool start();
  [[nodiscard]] bool running() const noexcept { return socket_ >= 0; }
  [[nodiscard]] int pid() const noexcept { return pid_; }

  // Forks an actor process: `environment` is added to its environment and
  // each (fd, target) of `descriptors` is dup2'ed onto target. Returns its
  // pid, or -errno. Not thread-safe: one caller (the monitor thread).
  int spawn(const std::vector<std::string>& environment, const std::vector<std::pair<int, int>>& descriptors);

  // Ends the requests (the server exits) and reaps the server and its
  // spare.
  void stop() noexcept;

 private:
  static void reap(int pid) noexcept;  // a child of this process: SIGKILL, then waitpid

  int pid_ = -1;
  int socket_ = -1;
};

// In a spare (runtime.cpp): what every actor process does before it knows
// which actor it will be, done ahead: the run's shared memory opened and its
// header and slot table mapped, the crash handlers installed. `run` may be
// empty (no request named a run yet).
void prepare_actor_process(const char* run) noexcept;

}  // namespace procactor::detail
