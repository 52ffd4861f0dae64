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

  // Closes the socket (the server exits) and reaps the server.
  void stop() noexcept;

 private:
  int pid_ = -1;
  int socket_ = -1;
};

}  // namespace procactor::detail
