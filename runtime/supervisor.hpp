// The supervisor side of a run: owns the arena and every actor process.
//
// One object, its work split by concern across files:
//   supervisor.cpp         construction, spawn, groups, the monitor loop, stop requests
//   supervisor_start.cpp   starting an actor process (posix_spawn, pipes, pidfd)
//   supervisor_exit.cpp    an exit: its record, the restart decision, group restarts, escalation
//   supervisor_watch.cpp   the slot-table check, the watchdog, stray processes
//   supervisor_output.cpp  captured stdout and stderr
//   supervisor_queries.cpp info, dead letters, monitors and Down messages
//   exit_paths.cpp         what a signal to the supervisor leaves behind
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fork_server.hpp"
#include "guardian.hpp"
#include "life_watch.hpp"
#include "logger.hpp"
#include "process.hpp"
#include "procactor/runtime.hpp"
#include "restart_decision.hpp"

namespace procactor::detail {

// How long an actor that a stop sent SIGTERM gets before SIGKILL, whatever
// the stop's timeout. That timeout is for on_stop; this is for the actor's
// own SIGTERM handler, if it has one (to flush, to remove what it made). A
// grace that followed the timeout would leave such a handler no time at a
// timeout of 0, and keep an actor that ignores SIGTERM for 100 years at
// milliseconds::max().
inline constexpr std::chrono::seconds term_grace{2};
// How long Runtime::signal and restart wait for an incarnation being
// started to be recorded (supervisor::await_start).
inline constexpr std::chrono::seconds start_wait{10};

class supervisor {
 public:
  supervisor(std::vector<std::string> argv, Options options);
  ~supervisor();

  slot_id spawn(std::string_view type, std::string_view name, const SpawnOptions& options);
  slot_id declare_remote(std::string_view type, std::string_view name, const SpawnOptions& options);
  Group group(std::string_view name, const GroupOptions& options, Group parent);
  bool join(slot_id slot, steady::duration timeout);
  void shutdown();
  ActorInfo info(slot_id slot) const;
  std::vector<ActorInfo> actors() const;
  std::vector<DeadLetter> dead_letters() const;
  void on_event(std::function<void(const ActorEvent&)> callback);
  void capture_output(std::function<void(const OutputLine&)> callback);
  bool restart(slot_id slot, const RestartOptions& options);
  void signal(slot_id slot, int sig);
  void set_routes(slot_id slot, const std::vector<Route>& routes);
  void monitor(slot_id target, bool add);  // by the supervising program
  std::optional<Down> next_down(steady::duration timeout);
  std::optional<std::string> gave_up() const;
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 private:
  // epoll data of the pidfd of an incarnation handled before its zombie:
  // the tag and the pidfd.
  static constexpr std::uint64_t exiting_tag = std::uint64_t{1} << 62;
  // epoll data of the pidfd of a helper (the guardian, the fork server):
  // its death is handled at once (watch_helpers), not at the next tick.
  static constexpr std::uint64_t helper_tag = std::uint64_t{1} << 61;

  // Why the supervisor asked an incarnation to stop.
  enum class stop_reason : std::uint8_t { none, restart_request, group };

  struct child {
    slot_config config;  // what the shared slot entry must say; see check_slots
    std::string type;
    std::string name;
    SpawnOptions options;
    std::uint32_t group = 0;
    bool remote = false;  // runs on another node: a mailbox here, no process
    int pid = 0;
    int pidfd = -1;
    steady::time_point started{};
    backoff_state backoff;
    std::optional<steady::time_point> restart_due;
    std::string last_exit;
    steady::time_point last_exit_at{};
    // The message the last incarnation had in hand as it ended (its lane's
    // sender + 1, 0 for none, and its position there): if it is still
    // queued when the actor ends for good, it is dead-lettered as that.
    std::uint32_t in_hand_sender = 0;
    std::uint64_t in_hand_position = 0;
    // A stop the supervisor asked for: graceful until stop_deadline, then
    // SIGTERM, then term_grace later SIGKILL.
    stop_reason stopping = stop_reason::none;
    bool drain = false;
    int stop_stage = 0;   // 0: asked, 1: SIGTERM sent, 2: SIGKILL sent
    std::optional<steady::time_point> stop_deadline;
    bool in_group_restart = false;  // stopped or waiting as part of a group operation
    std::string exit_cause;         // set by whoever ends the incarnation on purpose
    bool stalled = false;           // this incarnation was killed by the watchdog
    int signalled = 0;              // the last signal Runtime::signal sent it (procactor kill)
    // Watchdog: the in-flight message last seen, and since when.
    std::uint64_t watched_position = 0;
    std::uint32_t watched_sender = 0;
    std::uint64_t watched_processed = 0;
    steady::time_point watched_since{};
    int output[2] = {-1, -1};   // read ends of the stdout and stderr pipes
    std::string partial[2];     // a line not yet ended
    std::deque<std::string> stderr_tail;  // this incarnation's last stderr lines
    std::deque<ExitRecord> exits;         // the last 10
    // Incarnations in a row started only to handle what came into its lanes
    // as it closed (decide_after_exit); bounded, for a run() that returns
    // with messages queued.
    int drain_restarts = 0;
    // Ended for good, its mailbox not yet emptied into dead letters: join
    // waits for that, so that dead_letters() is complete once it returns.
    bool dead_lettering = false;
  };

  // A supervision group; [0] is the root.
  struct member {
    bool is_group = false;
    std::uint32_t id = 0;  // a slot, or a group index
  };
  struct group_node {
    std::string name;
    GroupOptions options;
    std::uint32_t parent = 0;
    std::vector<member> members;  // in start order
    intensity_history history;
  };
  // A restart of several members, or a group giving up: its actors are
  // stopped one at a time in reverse start order, then (for a restart)
  // started again in start order.
  struct group_operation {
    bool give_up = false;
    std::uint32_t group = 0;
    std::deque<slot_id> to_stop;
    std::vector<slot_id> to_start;
    steady::time_point start_at{};
    slot_id stopping = 0;  // the one being stopped now
    std::string culprit;
    std::string why;
  };

  slot_id add_slot(std::string_view type, std::string_view name, const SpawnOptions& options, bool remote);
  void monitor_loop();
  void start(slot_id slot);  // on the monitor thread
  void start_requested();
  void start_due();
  void reaped(slot_id slot, int status);
  void reap_early();
  // `by_request`: it died of the signal Runtime::signal sent it.
  void after_crash(slot_id slot, child& c, bool by_request);
  // An actor gone for good: what is still queued for it becomes dead letters.
  // `bounded`: while senders may still add to it, only as much as was
  // queued when it began.
  void dead_letter_queued(slot_id slot, const std::string& how, bool bounded);
  // What reached the mailboxes of actors that ended for good after their
  // last drain (a sender that checked the state before the end and wrote
  // after): dead letters too. Run after each exit.
  void sweep_ended();
  // Under mutex_: the name of a member down in a group's restart for room
  // in whose mailbox `sender` waits, or empty.
  std::string held_by_a_down_member(slot_id sender) const;
  void record_exit(slot_id slot, child& c, int status, steady::time_point now);
  void decide_after_exit(slot_id slot, child& c, const std::string& how, bool abnormal, bool closed, int pid,
                         stop_reason reason);
  // Returns how many actors it starts again.
  std::size_t begin_group_restart(std::uint32_t group, const std::vector<std::size_t>& positions,
                                  steady::duration delay, const std::string& why);
  void begin_give_up(std::uint32_t group, const std::string& culprit, const std::string& why);
  void escalate(std::uint32_t group, const std::string& culprit, const std::string& why);
  void end_supervision(const std::string& culprit, const std::string& why);
  void advance_operations();
  void request_stop(slot_id slot, stop_reason reason, bool drain, steady::duration timeout);
  void enforce_stop_deadlines();
  void flatten(const member& m, std::vector<slot_id>& out) const;
  std::size_t position_in_group(const member& m) const;
  void reset_history(std::uint32_t group);
  void set_state(slot_id slot, slot_state state);
  void await_start(std::unique_lock<std::mutex>& lock, slot_id slot);
  void emit(ActorEvent event);
  bool take_system_message(const delivery& d);
  // Adds a dead letter, letting the oldest go past Options::dead_letters_kept
  // and dead_letter_bytes_kept. With mutex_ held.
  void keep_dead_letter(DeadLetter letter);
  void send_downs(slot_id slot, bool restarting);
  void sweep_monitors();
  void courier_loop();
  void reap_orphans();
  // The fork server and the guardian, killed from outside: reaped, not
  // left as zombies; the guardian replaced, so that the run's shared memory
  // is still removed if this process dies. Called when a helper's pidfd
  // says it ended, and every monitor_tick (where there is no pidfd).
  void watch_helpers();
  // A pidfd of helper `pid` in the epoll set (helper_tag), or -1 where
  // pidfd_open fails (old kernels): the monitor_tick poll finds it then.
  int watch_helper(int pid);
  void watch_for_stalls();
  void check_slots();
  void read_output(slot_id slot, int stream, bool until_eof);
  void line(slot_id slot, int stream, std::string text);  // stream: 0 stdout, 1 stderr
  void close_output(slot_id slot);
  [[nodiscard]] std::string sender_name(std::uint32_t sender_plus_one) const;

  logger_session logger_;  // destroyed last: everything else may log on its way out
  fork_server forks_;  // made first, before any thread; see fork_server.hpp
  guardian guardian_;
  std::vector<std::string> argv_;
  std::string executable_;  // this program, as resolved at start-up
  Options options_;
  process* process_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Indexed by slot; [0] is the supervisor itself. Slots below
  // child_count_ are in use. A child is made when its slot is added
  // (before child_count_ covers it) and never moves: the monitor thread
  // keeps references while spawn() adds actors. The table of pointers is
  // sized once, for max_actors; the children are not made ahead: 1,024 of
  // them, with their deques, are about 2 MB written when the Runtime is
  // made, some 500 page faults, for actors most runs never have.
  class child_table {
   public:
    void size_for(std::size_t slots) { entries_.resize(slots); }
    void add(std::size_t slot, std::unique_ptr<child> made) noexcept { entries_[slot] = std::move(made); }
    child& operator[](std::size_t slot) noexcept { return *entries_[slot]; }
    const child& operator[](std::size_t slot) const noexcept { return *entries_[slot]; }

   private:
    std::vector<std::unique_ptr<child>> entries_;
  };
  child_table children_;
  std::atomic<std::uint32_t> child_count_{1};
  std::vector<group_node> groups_;  // guarded by mutex_
  std::deque<group_operation> operations_;  // monitor thread only
  std::optional<std::string> gave_up_;      // guarded by mutex_
  // The newest dead letters (keep_dead_letter), and their payloads' bytes.
  std::deque<DeadLetter> dead_letters_;  // guarded by mutex_
  std::size_t dead_letter_bytes_ = 0;    // guarded by mutex_
  std::deque<Down> downs_;  // for the supervising program; guarded by mutex_
  std::condition_variable down_ready_;
  // Downs for actors, mailed by the courier thread: a send may wait for
  // room, which the monitor thread must never do.
  std::deque<std::pair<slot_id, Down>> outgoing_downs_;  // guarded by mutex_
  std::condition_variable courier_wake_;
  std::thread courier_;
  std::function<void(const ActorEvent&)> on_event_;
  std::function<void(const OutputLine&)> on_output_;
  std::deque<std::pair<slot_id, std::promise<void>>> start_requests_;
  std::vector<int> dead_groups_;  // process groups whose stray members are reaped
  // Deaths noticed before the zombie (life_watch.hpp), for the monitor
  // thread; guarded by mutex_.
  std::vector<early_death> early_deaths_;
  // Incarnations handled as dead while their exit still runs: pid and
  // pidfd, kept until the pidfd says the zombie is there. Monitor thread.
  std::vector<std::pair<int, int>> exiting_;
  life_watch life_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int guardian_pidfd_ = -1;  // watch_helper's, of guardian_ and forks_
  int server_pidfd_ = -1;
  bool stopping_ = false;
  bool polling_ = false;  // some child has no pidfd: poll waitpid
  bool shut_down_ = false;
  std::thread monitor_thread_;
};

}  // namespace procactor::detail
