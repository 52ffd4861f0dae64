// The runtime's state in one process: the arena mapping, this process's
// slot, its outgoing lanes, its pending asks and the thread that pumps its
// reply inbox. One per process; the supervisor and every actor have one.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "arena.hpp"
#include "light_lock.hpp"
#include "mailbox.hpp"
#include "procactor/detail/core.hpp"

namespace procactor::detail {

struct pending {
  std::mutex mutex;
  std::condition_variable ready;
  int ready_waiters = 0;  // threads waiting on `ready` (under `mutex`): none, no notify
  bool done = false;
  std::atomic<bool> finished{false};  // `done`, readable without the mutex
  std::atomic<int> sleeping{0};  // threads that sleep on the inbox futex awaiting it
  errc code = errc::ok;
  std::string text;
  std::vector<std::byte> value;
  type_id value_type = 0;  // the reply's type (reply_type_id), for ok replies
  steady::time_point deadline;
  steady::time_point asked;  // when the ask was sent
  std::uint64_t correlation = 0;
  slot_id target = no_slot;
  // The request woke its receiver from a futex sleep: its answer takes a
  // wake-up at least, so the asker parks at once rather than spin beside it.
  bool peer_asleep = false;
  std::function<void()> on_reply;  // set before the ask is sent
  // Completed by this process's own code (then(), a pool's queued task),
  // not by a reply: no correlation, no target, no deadline of its own.
  bool local = false;
  // Future::on_done / then: run once, after `done`, outside every runtime
  // lock (see run_callbacks). Under `mutex`.
  std::vector<std::function<void()>> callbacks;
  // Future::cancel: withdraws the request if it has not started; set by
  // whoever can (a pool, for its queued tasks). Under `mutex`.
  std::function<bool()> canceller;
  // When its target was first seen gone for good (settle()).
  steady::time_point target_gone_since{};
};

class timer_service;


// Messages other than replies that reach a process's inbox (the
// supervisor's: dead letters). Returns false for a type it does not take.
using inbox_handler = std::function<bool(const delivery&)>;

class process {
 public:
  process(arena a, slot_id self, bool supervisor);
  ~process();

  static process* current() noexcept;
  static void install(std::unique_ptr<process> p);
  static void uninstall();
  // Why there is no process now: none was made, or the Runtime that made it
  // is gone (said by errc::not_supervisor).
  static const char* none_reason() noexcept;
  // True in a fork() copy of a process of the run (without exec): it is
  // not part of the run, and its Runtime, process and Pools are let go of
  // there, never destroyed (none_reason says why the API fails there).
  static bool fork_copy() noexcept;
  // Around a fork that makes a helper of the run (the fork server), which
  // is not such a copy.
  static void helper_fork(bool on) noexcept;
  // Ends a fork() copy that reached the actor's own use of its rings
  // (write, the mailbox loop), saying so.
  [[noreturn]] void end_fork_copy() const noexcept;

  [[nodiscard]] const arena& shm() const noexcept { return arena_; }
  [[nodiscard]] slot_id self() const noexcept { return self_; }
  [[nodiscard]] bool is_supervisor() const noexcept { return supervisor_; }
  [[nodiscard]] slot_entry* entry(slot_id slot) const noexcept;
  [[nodiscard]] sender& out() noexcept { return sender_; }

  errc write(slot_id target, bool to_inbox, const message_header& header, std::span<const std::byte> payload,
             send_deadline deadline);
  // `type`: the reply type id of an ok reply's value; 0 for an error.
  // `wait`: how long a full inbox may hold it (send_timeout unless given;
  // a default send_deadline: not at all, the reply is then dropped, and
  // said).
  void reply(slot_id asker, std::uint64_t correlation, errc code, std::span<const std::byte> bytes, type_id type = 0,
             std::optional<send_deadline> wait = std::nullopt);
  // False when this process's inbox offset in the slot table no longer
  // names the inbox it reads: replies cannot reach it.
  [[nodiscard]] bool inbox_intact() const noexcept;
  // Why a write failed, in words that name the limit and the option to raise.
  [[nodiscard]] std::string describe_failure(errc code, std::size_t bytes) const;

  std::shared_ptr<pending> ask(slot_id target, outgoing message, steady::duration timeout,
                               std::function<void()> on_reply = {});
  void complete(std::uint64_t correlation, errc code, std::span<const std::byte> bytes, type_id type = 0);
  // Ends `state` with this outcome unless it has ended already (false then):
  // wakes its waiters and runs its callbacks. `bytes`: the value of an ok
  // outcome, else the error's text.
  bool finish(pending& state, errc code, std::span<const std::byte> bytes, type_id type = 0);
  // Ends `state` if it can no longer be answered: its deadline passed, this
  // process's inbox offset was overwritten, or its target has been gone for
  // good for two liveness slices (a reply sent just before the end still
  // lands). True once the state is done.
  bool settle(pending& state, steady::time_point now);
  // Settles `state` from the pump thread until it is done (Future::on_done
  // and then() on a future nobody waits for).
  void watch(const std::shared_ptr<pending>& state);
  // Drops an ask that ended without a reply (timeout); a late one is ignored.
  void forget(std::uint64_t correlation);

  // This process's timers (timer.hpp); their thread starts with the first.
  [[nodiscard]] timer_service& timers() noexcept { return *timers_; }

  void set_inbox_handler(inbox_handler handler) { inbox_handler_ = std::move(handler); }
  void start_pump();
  void stop_pump();
  // Takes whatever waits in the inbox now, unless another thread is at it.
  // A thread waiting for a reply calls this while it spins, so a hot round
  // trip needs no hand-off to the pump thread. A waiter whose answer comes
  // from slot `from` may pass `everything` false: then only that sender's
  // lane is looked at (await_reply drains the whole inbox on its first
  // poll, every 16th, and after a sleep, so that a reply from another slot,
  // or another thread's, is not left waiting).
  void poll_inbox(slot_id from = no_slot, bool everything = true);
  // Takes everything in the inbox now, waiting for a thread that is at it.
  // The supervisor calls it when an actor has died, so that whatever the
  // actor reported (dead letters) is in before its exit is told.
  void drain_inbox_now();
  // Waits for a reply to `state` as the inbox's consumer: spin-polls, then
  // sleeps on the inbox futex. The pump thread steps aside meanwhile, so a
  // reply wakes exactly one thread: its asker.
  void await_reply(pending& state, steady::time_point limit);
  // At each clock read of that spin: notes the CPU this thread is pinned
  // to in this process's slot entry, and says whether `target` waits pinned
  // to the same one, so that the spin would keep the answer from being
  // written (cpu_share.hpp).
  [[nodiscard]] bool target_shares_cpu(slot_id target, steady::time_point now) const noexcept;
  // False before start_pump() has found this process's inbox.
  [[nodiscard]] bool can_await() const noexcept { return inbox_ != nullptr; }
  // Waits until one of `states` is done, or `limit`; its index, or
  // states.size() at the limit. Settles them meanwhile.
  std::size_t await_any(std::span<pending* const> states, steady::time_point limit);

  // Supervisor hooks: join waits on the supervisor's own bookkeeping.
  std::function<bool(slot_id, steady::duration)> join_hook;
  std::function<slot_id(std::string_view, std::string_view, const SpawnOptions&)> spawn_hook;
  std::function<void(slot_id, bool)> monitor_hook;
  steady::duration send_timeout = std::chrono::seconds(30);
  // An actor's thread that reads its mailbox (actor_host's): an ask of the
  // actor itself from there could be answered only after it returns.
  std::thread::id consumer;

 private:
  void pump();
  void drain_inbox();  // with inbox_lock_ held
  void take_in(const delivery& d);  // one record of the inbox, with inbox_lock_ held
  // `states`: the waiter's (one for an awaiter, several for await_any),
  // whose completion also ends the sleep; empty for the pump. `unfenced`: a
  // slow waiter's first sleep, short and without the membarrier (park_fence).
  void park_on_inbox(steady::duration timeout, std::span<pending* const> states, bool unfenced = false);
  bool settle_watched();  // true while something is watched
  void begin_await();
  void end_await(steady::time_point end);

  arena arena_;
  slot_id self_;
  bool supervisor_;
  sender sender_;
  // The asks awaiting replies, by correlation. An ask in a loop allocates
  // nothing: a state no Future holds any more is reused (its buffers keep
  // their capacity), and so are the table's nodes. All under pending_lock_.
  // Both with pending_lock_ held: an ask takes it once for the two.
  std::shared_ptr<pending> acquire_pending_locked();
  void track_locked(std::uint64_t correlation, std::shared_ptr<pending> state);
  std::shared_ptr<pending> untrack(std::uint64_t correlation);  // null if not there
  using pending_table = std::unordered_map<std::uint64_t, std::shared_ptr<pending>>;
  light_lock pending_lock_;
  // Most asks find their place free here, at their correlation's low bits
  // (correlations count up, and few asks are outstanding at once): no
  // hashing, no node. The others go into pending_.
  struct tracked {
    std::uint64_t correlation = 0;
    std::shared_ptr<pending> state;
  };
  std::array<tracked, 64> recent_;
  pending_table pending_;
  std::vector<pending_table::node_type> spare_nodes_;
  std::vector<std::shared_ptr<pending>> states_;  // each reusable when only this holds it
  std::atomic<std::uint64_t> next_correlation_{1};
  inbox_handler inbox_handler_;
  light_lock inbox_lock_;  // held by whichever thread consumes the inbox
  std::unique_ptr<receiver> inbox_;
  std::atomic<int> awaiters_{0};         // threads inside await_reply
  std::atomic<std::int64_t> last_await_end_{0};  // steady ns: the pump lingers after asks
  std::atomic<bool> pump_on_futex_{false};
  std::mutex pump_mutex_;
  std::condition_variable pump_idle_;    // the pump waits here while awaiters_ > 0
  spin_budget reply_spin_;               // how long an awaiter spins (shared by the awaiting threads)
  std::mutex watched_mutex_;
  std::vector<std::weak_ptr<pending>> watched_;
  std::once_flag pump_started_;
  std::atomic<bool> pump_checked_{false};  // start_pump ran: later calls read only this
  std::atomic<bool> pump_stop_{false};
  std::thread pump_thread_;
  // Last: made after everything it sends through, stopped before it goes.
  std::unique_ptr<timer_service> timers_;
};

// Human-readable text for a log line: "procactor: <who>: <text>" on
// stderr, or to Options::logger where one is set (logger.hpp). Any thread.
void log_line(const std::string& who, const std::string& text);

// Whether this thread's last reply (process::reply) woke its asker from a
// futex sleep, since the last call: that asker's next message then comes
// after a wake-up at least. Clears it.
bool reply_woke_asker() noexcept;

// What a /proc/PID/stat line ("pid (comm) state ppid ...") says of the
// process behind a pid read from shared memory: a child of `supervisor`
// (an actor of this run, its zombie too), a task being reaped (the kernel
// shows state X, and parent 0 once it is unhashed, for a moment), or
// anything else, which no actor of this run is.
enum class pid_owner : std::uint8_t { actor, exiting, foreign };
pid_owner owner_in_stat(const char* stat_line, int supervisor) noexcept;

}  // namespace procactor::detail
