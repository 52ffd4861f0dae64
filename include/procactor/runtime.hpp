// procactor::Runtime — the supervisor of a run, and the entry point of its
// actor processes.
//
//   int main(int argc, char** argv) {
//     procactor::Runtime rt(argc, argv);  // first thing in main
//     auto printer = rt.spawn<Printer>("printer");
//     ...
//   }
//
// `spawn` re-executes this same program (/proc/self/exe) in child mode; in a
// child, the Runtime constructor runs the actor and exits the process instead
// of returning. So construct the Runtime before doing anything a child should
// not do (printing, opening files, starting threads).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actor.hpp"
#include "actor_ref.hpp"
#include "params.hpp"
#include "route.hpp"
#include "supervision.hpp"
#include "typed_ref.hpp"

namespace procactor {

using namespace std::chrono_literals;

enum class Delivery : std::uint8_t {
  at_least_once,  // commit after the handler: a crash redelivers the message
  at_most_once,   // commit before the handler: a crash loses it
};

// What a sender blocked on a full lane does while the receiver is down.
enum class WhenDown : std::uint8_t { wait_for_restart, fail_fast };

struct Backoff {
  std::chrono::milliseconds initial = 0ms;  // the first restart is immediate
  std::chrono::milliseconds max = 1000ms;
  double multiplier = 2.0;
  double jitter = 0.1;  // +- this fraction, so restarts of many actors spread out
  std::chrono::milliseconds reset_after = 10000ms;  // stable this long: back to initial
};

struct SpawnOptions {
  Params params;
  Restart restart = Restart::transient;
  // The supervision group the actor belongs to (Runtime::group); its
  // strategy and intensity decide what a crash leads to. Default: the root.
  Group group;
  Backoff backoff;
  std::size_t mailbox_capacity = 0;  // bytes per sender lane; 0: Options::lane_capacity
  Delivery delivery = Delivery::at_least_once;
  int poison_limit = 3;  // crashes on one message before it goes to dead letters
  WhenDown when_down = WhenDown::wait_for_restart;
  int cpu = -1;   // pin the process to this core; -1: no pinning
  int nice = 0;   // the process's nice level, -20 to 19
  // Address-space limit (RLIMIT_AS) in bytes, on top of the run's shared
  // memory mapping (Options::arena_size), which every actor maps; 0: none.
  std::size_t memory_limit = 0;
  // Watchdog: a handler that runs longer than this is taken as hung; the
  // process is killed and restarted by policy (and the message counts
  // towards the poison guard). 0: no watchdog.
  std::chrono::milliseconds stall_timeout = 0ms;
  int replica = 0;  // the N of "name.N" in logs
  std::vector<Route> routes;  // where emit() sends
};

struct Options {
  // The most shared memory the run may grow to. Only what the run uses is
  // taken from /dev/shm (mailboxes, and lanes that start at 4 KiB and grow
  // with their traffic); the rest is address space, not memory.
  std::size_t arena_size = std::size_t{4} << 30;
  std::size_t lane_capacity = std::size_t{256} << 10;  // default largest size of a sender lane
  std::size_t max_message_size = std::size_t{128} << 20;  // larger sends are refused
  std::uint32_t max_actors = 1023;  // also the most a run can have
  std::chrono::milliseconds send_timeout = 30000ms;  // default deadline of send()
  std::chrono::milliseconds shutdown_timeout = 5000ms;  // close -> SIGTERM -> SIGKILL
  // The dead letters the run keeps for dead_letters(): the newest, at most
  // this many and this many payload bytes in all (older ones are let go;
  // ActorInfo::dead_letters still counts every one). An actor that cannot
  // handle what it is sent would otherwise grow the supervising process
  // without end.
  std::size_t dead_letters_kept = 10000;
  std::size_t dead_letter_bytes_kept = std::size_t{64} << 20;
  bool log_events = true;  // one stderr line per exit and restart
  // Actors are forked from a helper made when the Runtime is (fast: no exec,
  // no dynamic loading), so they start from the program as it was then:
  // its environment, working directory and limits of that moment (the
  // working directory is brought up to date at each start). false, or
  // PROCACTOR_SPAWN=exec in the environment: posix_spawn + exec of this
  // program for every actor.
  bool fork_server = true;
  // The root group: the strategy and intensity for actors spawned without a
  // group, and for the groups made directly under it.
  GroupOptions supervision;
  // When set, every line the runtime logs in this process (the supervising
  // program's: exits and restarts with log_events, problems found in shared
  // memory, failed starts, its timers' failures) goes here instead of to
  // stderr, as `who` (an actor's name, or "supervisor") and `text` (no
  // "procactor:" prefix, no newline). It is called on a thread of its own,
  // one line at a time, in order, never with a runtime lock held, until the
  // Runtime is destroyed. It must not call into the Runtime or wait on
  // actors (~Runtime waits for it to return). Actor processes still write
  // their own lines to their stderr, which capture_output() can capture.
  std::function<void(std::string_view who, std::string_view text)> logger;
};

enum class ActorState : std::uint8_t { starting, running, restarting, exited, failed, killed };
std::string_view to_string(ActorState state) noexcept;

struct ActorInfo {
  ActorRef ref;
  std::string name;
  std::string type;
  int pid = 0;
  ActorState state = ActorState::starting;
  std::uint32_t restarts = 0;
  std::uint64_t processed = 0;
  std::uint64_t dead_letters = 0;
  std::string last_exit;  // "exit code 1", "signal 9 (Killed), core dumped", ...
  int replica = 0;
  std::uint64_t queued_bytes = 0;  // bytes waiting in its mailbox
  // The most waiting in one sender's newest lane: once that is the lane
  // capacity (SpawnOptions::mailbox_capacity), the sender is held back.
  // queued_bytes also counts the older lanes a sender's lane grew from,
  // so it can pass the capacity; this cannot.
  std::uint64_t fullest_lane_bytes = 0;
  std::chrono::steady_clock::time_point started{};  // of the current incarnation
  std::chrono::steady_clock::time_point last_exit_at{};  // when last_exit happened
  std::string group;  // its supervision group's name ("root")
  std::vector<ExitRecord> exits;  // its last exits, oldest first (at most 10)
  // What came into its mailbox, per sender that ever sent to it: the
  // messages it has handled from that sender (over all incarnations), and
  // the bytes from it still queued. The supervisor's own sends count under
  // an invalid `from`.
  struct Inbound {
    ActorRef from;
    std::uint64_t messages = 0;
    std::uint64_t queued_bytes = 0;
  };
  std::vector<Inbound> inbound;
};

// One whole line an actor printed, when output is captured.
struct OutputLine {
  std::string name;
  int replica = 0;
  int stream = 1;  // 1: stdout, 2: stderr
  std::string text;  // without the newline
};

// A message that could not be handled, kept for inspection.
struct DeadLetter {
  std::string actor;
  type_id type = 0;
  std::string type_name;
  std::string reason;
  ActorRef sender;
  std::vector<std::byte> payload;
  // Handler runs that ended in a crash: of a poisoned message, or of the one
  // the actor had in hand as it ended for good (at least 1); else 0.
  std::uint32_t attempts = 0;
};

// What happened to an actor process, for anyone who wants to show it.
struct ActorEvent {
  // gave_up: a group exceeded its intensity; `name` is the group ("root"
  // for the top level, after which supervision has ended) and `culprit` the
  // actor whose exit went over the limit. A group that gave up and is
  // restarted whole by its parent is told as `restarting` with the group's
  // name and the same culprit.
  enum class Kind : std::uint8_t { started, exited, restarting, gave_up } kind;
  std::string name;
  int pid = 0;
  std::string detail;  // how it exited, or why it was given up
  std::string culprit;
};

class Runtime {
 public:
  Runtime(int argc, char** argv, Options options = {});
  // Closes every actor still running, waits shutdown_timeout, then SIGTERM,
  // and 2 s later SIGKILL; removes the run's shared memory.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // A TypedRef<A> for an Actor<A, Handled...>, whose sends and asks are
  // checked against A's handlers at compile time; a plain ActorRef for an
  // actor that derives from ActorBase and runs its own loop.
  template <class A>
  auto spawn(std::string_view name, SpawnOptions options = {}) {
    static_assert(detail::registered_actor<A>,
                  "spawn<A>: A is not registered as an actor type; put PROCACTOR_ACTOR(A) at global scope after "
                  "its class (in a header, or before this call)");
    const ActorRef ref = spawn(detail::actor_type_name(actor_traits<A>::spelled), name, std::move(options));
    if constexpr (typed_actor<A>) {
      return TypedRef<A>(ref);
    } else {
      return ref;
    }
  }
  // Spawns a registered type by name ("examples.Sum"); throws error on failure.
  ActorRef spawn(std::string_view type, std::string_view name, SpawnOptions options = {});

  // An actor that runs on another node of a multi-node run: a mailbox and a
  // reply inbox here, which the node's gateway carries to that node, and no
  // process. Sends to it work as to any actor. Its own node supervises it:
  // here it is in no group, restart and signal do nothing, join waits for
  // nothing that comes, and close closes only the mailbox here. The nodes
  // of a run declare every actor in the same order.
  ActorRef remote(std::string_view type, std::string_view name, SpawnOptions options = {});

  [[nodiscard]] ActorRef find(std::string_view name) const;
  // Throws error(no_such_actor) for a ref that names no actor of this run.
  [[nodiscard]] ActorInfo info(ActorRef ref) const;
  [[nodiscard]] std::vector<ActorInfo> actors() const;
  [[nodiscard]] std::vector<DeadLetter> dead_letters() const;
  [[nodiscard]] const Options& options() const noexcept;
  // Bytes of /dev/shm the run's arena holds now: mailboxes and lanes, which
  // grow with traffic (large messages in flight live in segments of their
  // own and are not counted).
  [[nodiscard]] std::uint64_t shared_memory_used() const;
  // Problems found in the run's shared memory so far: corrupt records,
  // overwritten slot-table entries (each also logged; see docs/RELIABILITY.md).
  [[nodiscard]] std::uint64_t corruptions() const;

  // Called from the runtime's monitor thread; keep it short.
  void on_event(std::function<void(const ActorEvent&)> callback);
  // Options::logger gets the runtime's lines from a thread of its own, so
  // an event can reach on_event before a line logged ahead of it reaches
  // the logger. Returns once every line logged before this call has been
  // handed to Options::logger (at once when there is none, or when called
  // from the logger itself).
  void flush_log();
  // Actors spawned after this call get pipes for stdout and stderr; each
  // whole line they print reaches `callback` (on the monitor thread).
  void capture_output(std::function<void(const OutputLine&)> callback);

  // A supervision group under `parent` (default: the root group). Actors
  // join it through SpawnOptions::group; groups nest.
  Group group(std::string_view name, GroupOptions options = {}, Group parent = {});

  // Stops the current incarnation and starts a new one, whatever the
  // restart policy; not counted against any intensity. By default it is
  // graceful: the actor stops after the message in hand, runs on_stop, and
  // gets Options::shutdown_timeout before SIGTERM, and 2 s more before SIGKILL.
  // One down and waiting out its restart backoff starts now. Returns false
  // when it is left as it is: down in its group's restart, or gone for good.
  bool restart(ActorRef ref, RestartOptions options = {});

  // Every exit of `ref` from now on sends a Down to this program, which
  // next_down() returns; a Down that says !restarting ends the monitor. An
  // actor already gone for good gets one Down at once.
  void monitor(ActorRef ref);
  void demonitor(ActorRef ref);
  // The next Down for this program; nullopt after `timeout`.
  template <class Rep, class Period>
  std::optional<Down> next_down(std::chrono::duration<Rep, Period> timeout) {
    return next_down_within(detail::bounded(timeout));
  }
  // Why supervision ended, once the root group gave up; nullopt before.
  [[nodiscard]] std::optional<std::string> gave_up() const;
  // Sends `signal` to the actor's process; its exit is handled by policy.
  void signal(ActorRef ref, int signal);
  // Replaces the actor's routes (SpawnOptions::routes): the running
  // incarnation uses them from its next emit, later incarnations start with
  // them. With it a graph changes shape while it runs: spawn a replica and
  // add it to its senders' routes; or take one out of the routes, then
  // close() it: it handles what is queued, and an emit that finds it closed
  // goes to the route's new targets instead, so nothing is lost.
  void set_routes(ActorRef ref, std::vector<Route> routes);

  // Closes all actors in spawn order and waits for them (what ~Runtime does).
  void shutdown();

  // Every actor type registered in this process (the executable and plugins).
  static std::vector<std::string> actor_types();
  // The parameters a type declares; nullopt when it declares none.
  static std::optional<std::vector<ParamSpec>> actor_parameters(std::string_view type);
  // Loads a plugin (.so) whose PROCACTOR_ACTOR types become spawnable; child
  // processes load it too.
  static void load_plugin(const std::string& path);

  // For programs that construct their Runtime late (after parsing their
  // command line): call first in main. In a child process started by a
  // Runtime it runs the actor and exits; elsewhere it returns at once.
  static void run_if_child();

 private:
  std::optional<Down> next_down_within(detail::clock::duration timeout);

  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace procactor
