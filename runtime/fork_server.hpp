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
// socket, and ends with the supervisor: an orderly stop says `quit` first;
// the socket's end without it is the supervisor's death (a SIGKILL), and
// the server removes the run's shared memory before it exits, as the
// guardian does (guardian.hpp). Either of the two, killed from outside,
// leaves the other to do it.
//
// There are two spares: children the server made ahead of need, already
// in their own process group, with the run's shared memory mapped and the
// pages an actor's start touches paged in, that wait for a request and
// become that actor. The server passes each spare's socket to the
// supervisor, which sends a start or a restart to the oldest spare itself:
// it waits for no fork (a millisecond or more on a virtual machine) and no
// hop through the server. As it hands one over, the supervisor asks for
// another; the server makes it a moment later (spare_delay_ms), so the
// fork does not take the CPU the new actor needs, and in a burst of
// restarts the second spare has had that time to get ready. The spares are
// the supervisor's children (procactor-spare in ps): it reaps them.
//
// Memory: the server is a copy-on-write image of the program as it was
// when the Runtime was made; each actor is the same image plus what it
// touches. Options::fork_server = false (or PROCACTOR_SPAWN=exec in the
// environment) starts every actor with posix_spawn + exec instead.
#pragma once

#include <cerrno>
#include <deque>
#include <optional>
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
  [[nodiscard]] bool running() const noexcept { return socket_ >= 0 || !spares_.empty(); }
  [[nodiscard]] int pid() const noexcept { return pid_; }

  // Forks an actor process: `environment` is added to its environment and
  // each (fd, target) of `descriptors` is dup2'ed onto target. Returns its
  // pid, or -errno. Not thread-safe: one caller (the monitor thread).
  int spawn(const std::vector<std::string>& environment, const std::vector<std::pair<int, int>>& descriptors);

  // Clones the guardian of `run` (guardian.hpp) with `read_end` on its
  // standard input; the server removes `run`'s segments too if the
  // supervisor dies. Returns its pid, or -errno (the caller then starts one
  // with exec). Called before spawn's caller (the monitor thread) starts,
  // and by it for a guardian that takes a killed one's place.
  int spawn_guardian(int read_end, const std::string& run);

  // Says `quit` and ends the requests (the server exits, leaving the run's
  // shared memory to the supervisor), and reaps the server and the spares.
  void stop() noexcept;

  // When the server has died (killed from outside): reaps it and returns
  // its wait status. The spares in hand still serve; then starts are
  // exec's. Not thread-safe, as spawn.
  [[nodiscard]] std::optional<int> reap_if_dead() noexcept;

 private:
  struct fork_reply_data {
    int pid = 0;       // or -errno
    int socket = -1;   // a spare's
  };
  struct spare {
    int pid;     // a child of this process, waiting on `socket`
    int socket;
  };
  // Two: in a burst of restarts the next one finds a spare that has had
  // the time to get ready while the one before it was handed over.
  static constexpr std::size_t kept_spares = 2;

  // How long an answer of the server is waited for: one that does not come
  // (the server stopped from outside) must not hold a start, or the run's
  // end, for ever. The server is then killed and counted lost.
  static constexpr int answer_timeout_ms = 5000;

  static void reap(int pid) noexcept;  // a child of this process: SIGKILL, then waitpid
  // One answer, waited for up to `wait_ms` (0: none when none is there).
  bool receive_reply(fork_reply_data& out, int wait_ms);
  void top_up();                   // asks the server for spares up to kept_spares
  // Takes the server's answers: those there now, or also waiting for one
  // when no spare is in hand, or for every spare asked for.
  enum class collect { ready, one, all };
  void collect_spares(collect how, int wait_ms = answer_timeout_ms);
  void lost() noexcept;            // the server is gone
  // Sends the server a request of `kind` and waits for its answer: the
  // pid of the child it made, or -errno.
  int ask_server(std::uint32_t kind, const std::string& bytes, const std::vector<std::pair<int, int>>& descriptors);

  int pid_ = -1;
  int socket_ = -1;
  std::deque<spare> spares_;  // oldest first
  int asked_ = 0;             // spares asked for and not yet collected
  int failure_ = ENOTCONN;    // why the server is lost, once it is
  std::string run_;           // "PROCACTOR_RUN=<name>\0": what a spare opens ahead
};

// In the server and in a spare (runtime.cpp): what every actor process
// does before it knows which actor it will be, done ahead: the crash
// handlers installed (once; `who` names the process in a crash report), the
// run's shared memory opened (once per run: a spare inherits the server's
// mapping) and, in a spare (`spare_socket`, where its request will come),
// the slot table paged in. `run` may be null (no request named a run yet).
void prepare_actor_process(const char* who, const char* run, int spare_socket) noexcept;
// In a spare: returns when a request is readable on `spare_socket`, paging
// in meanwhile what the run's actors touch as they start (warm_start.hpp).
void await_request(int spare_socket) noexcept;

}  // namespace procactor::detail
