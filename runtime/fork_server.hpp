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
// There is one spare: a child the server made ahead of need, already in
// its own process group with default signal dispositions and with the
// run's shared memory open, that waits for a request and becomes that
// actor. The server passes the spare's socket to the supervisor, which
// sends the request to the spare itself: a start or a restart then waits
// for no fork (a millisecond or more on a virtual machine) and no hop
// through the server. The supervisor asks for the next spare as it hands
// one over; the server makes it a moment later (spare_delay_ms), so the
// fork does not take the CPU the new actor needs. The spare is the
// supervisor's child (procactor-spare in ps): the supervisor reaps it.
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
  [[nodiscard]] bool running() const noexcept { return socket_ >= 0 || spare_pid_ > 0; }
  [[nodiscard]] int pid() const noexcept { return pid_; }

  // Forks an actor process: `environment` is added to its environment and
  // each (fd, target) of `descriptors` is dup2'ed onto target. Returns its
  // pid, or -errno. Not thread-safe: one caller (the monitor thread).
  int spawn(const std::vector<std::string>& environment, const std::vector<std::pair<int, int>>& descriptors);

  // Ends the requests (the server exits) and reaps the server and the
  // spare.
  void stop() noexcept;

 private:
  struct fork_reply_data {
    int pid = 0;
    int socket = -1;
  };
  static void reap(int pid) noexcept;  // a child of this process: SIGKILL, then waitpid
  bool receive_reply(fork_reply_data& out);
  void ask_for_spare();   // the server answers with the spare's pid and socket
  void collect_spare();   // takes that answer, waiting for it if need be
  void drop_spare() noexcept;
  void lost() noexcept;   // the server is gone

  int pid_ = -1;
  int socket_ = -1;
  int spare_pid_ = -1;     // a child of this process, waiting on spare_socket_
  int spare_socket_ = -1;
  bool spare_asked_ = false;
  std::string run_;        // "PROCACTOR_RUN=<name>\0": what a spare opens ahead
};

// In the server and in a spare (runtime.cpp): what every actor process
// does before it knows which actor it will be, done ahead: the crash
// handlers installed (once; `who` names the process in a crash report), the
// run's shared memory opened (once per run: a spare inherits the server's
// mapping) and, with `page_in` (a spare), the header and slot table paged
// in. `run` may
// be null (no request named a run yet).
void prepare_actor_process(const char* who, const char* run, bool page_in) noexcept;

}  // namespace procactor::detail
