#include "process.hpp"

#include <immintrin.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <utility>

#include "cpu_share.hpp"
#include "exit_paths.hpp"
#include "futex.hpp"
#include "logger.hpp"
#include "procactor/runtime.hpp"
#include "timer.hpp"

namespace procactor::detail {
namespace {

std::unique_ptr<process>& instance() {
  static std::unique_ptr<process> p;
  return p;
}
std::atomic<bool> g_ever_installed{false};
// This process is a fork() copy (without exec) of a process of a run.
std::atomic<bool> g_fork_copy{false};
// On the thread that forks the fork server (fork_server::start), which
// makes a helper of the run: the child inherits it, another thread's fork
// does not.
thread_local bool t_helper_fork = false;

// pthread_atfork's child handler. The copy has the original's memory and
// descriptors but none of its threads: its process (and a Runtime's
// supervisor) is let go of, never destroyed there, as destroying it would
// join threads that are not there and close the original's actors; and it
// lets go of the run (exit_paths.hpp), so that its exit removes nothing and
// it keeps nothing of the run alive. A fork made while no runtime is
// installed (before it, or after the Runtime's end) is not such a copy.
void on_fork_child() noexcept {
  if (t_helper_fork) return;
  if (instance() != nullptr) {
    g_fork_copy.store(true, std::memory_order_relaxed);
    (void)instance().release();
  }
  leave_run_in_fork_copy();
}
// Registered as the library loads, before any Runtime or thread of it.
[[maybe_unused]] const bool g_atfork_registered = ::pthread_atfork(nullptr, nullptr, on_fork_child) == 0;

}  // namespace
}  // namespace procactor::detail

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer's hook, asked as a program ends: a fork() copy holds what
// the original's threads owned, which no thread of the copy can reach, and
// what it lets go of on purpose (its process, a Runtime's supervisor): not
// leaks to report at its exit.
extern "C" int __lsan_is_turned_off() { return procactor::detail::process::fork_copy() ? 1 : 0; }
#endif

namespace procactor::detail {
namespace {

// The longest a waiter sleeps before it re-checks the actor it waits on.
constexpr auto liveness_slice = std::chrono::milliseconds(50);

process& need_process() {
  process* p = process::current();
  if (p == nullptr) {
    throw error(errc::not_supervisor, process::none_reason());
  }
  return *p;
}

slot_state state_of(const slot_entry& e) {
  return static_cast<slot_state>(e.state.load(std::memory_order_acquire));
}

}  // namespace

void log_line(const std::string& who, const std::string& text) {
  if (offer_to_logger(who, text)) return;  // Options::logger, in the supervising program
  write_stderr(who, text);
}

process::process(arena a, slot_id self, bool supervisor)
    : arena_(std::move(a)), self_(self), supervisor_(supervisor), sender_(arena_, self) {
  // Before this process sends anything: its per-message fences become
  // compiler barriers once it is registered for membarrier (futex.hpp).
  (void)enable_light_fences();
  // The inbox belongs to the slot and outlives this process: a reply meant
  // for an earlier incarnation's ask may still arrive. Ids unique to this
  // process keep it from completing one of ours.
  next_correlation_.store((static_cast<std::uint64_t>(::getpid()) << 32) | 1);
  timers_ = std::make_unique<timer_service>(*this);
}

process::~process() {
  timers_->stop();  // it sends through this process: first
  stop_pump();
}

process* process::current() noexcept { return instance().get(); }
void process::install(std::unique_ptr<process> p) {
  g_ever_installed.store(true);
  // The supervisor's segment descriptor holds the run's lock (arena.hpp).
  if (p && p->is_supervisor()) close_in_fork_copies(p->shm().descriptor());
  instance() = std::move(p);
}
const char* process::none_reason() noexcept {
  if (g_fork_copy.load()) {
    return "this process is a fork() of the program that runs the procactor::Runtime, and not part of its run: "
           "the runtime, its actors and their references are the original program's (exec a program, or fork "
           "before making the Runtime)";
  }
  return g_ever_installed.load() ? "the procactor::Runtime of this process has been destroyed, and its actors with it"
                                 : "no procactor::Runtime has been constructed in this process";
}
void process::uninstall() {
  if (const process* p = instance().get(); p != nullptr && p->is_supervisor()) {
    keep_in_fork_copies(p->shm().descriptor());
  }
  instance().reset();
}
bool process::fork_copy() noexcept { return g_fork_copy.load(std::memory_order_relaxed); }
void process::helper_fork(bool on) noexcept { t_helper_fork = on; }

void process::end_fork_copy() const noexcept {
  // An actor's copy that went on into the actor's code (a handler that
  // returned) would read and write the original's rings as a second
  // consumer and producer: it ends at its first step there.
  const slot_entry& e = arena_.slot(self_);
  write_stderr(std::string(e.name, strnlen(e.name, sizeof e.name)),
               "a fork() copy of this process (pid " + std::to_string(::getpid()) +
                   ") went on into the actor's message loop, where it is not the actor: it ends here (exit 1)");
  std::fflush(stdout);
  ::_exit(1);
}

slot_entry* process::entry(slot_id slot) const noexcept {
  if (slot >= max_slots || slot >= arena_.header()->slot_count.load(std::memory_order_acquire)) return nullptr;
  slot_entry& e = arena_.slot(slot);
  return state_of(e) == slot_state::free ? nullptr : &e;
}

errc process::write(slot_id target, bool to_inbox, const message_header& header, std::span<const std::byte> payload,
                    send_deadline deadline) {
  if (g_fork_copy.load(std::memory_order_relaxed)) end_fork_copy();
  slot_entry* e = entry(target);
  if (e == nullptr) return errc::no_such_actor;
  // The supervising program has an inbox (replies, system messages) but no
  // mailbox: its slot's offset 0 is no damage.
  if (!to_inbox && target == supervisor_slot) return errc::no_such_actor;
  const std::uint64_t box = to_inbox ? e->inbox : e->mailbox;
  if (!to_inbox && is_terminal(state_of(*e))) {
    mailbox* m = arena_.mailbox_at(box);
    return m != nullptr && m->closed.load() == mailbox_closed ? errc::closed : errc::no_such_actor;
  }
  auto verdict = [](const void* context) {
    const auto* target_entry = static_cast<const slot_entry*>(context);
    const slot_state s = state_of(*target_entry);
    if (is_terminal(s)) return errc::actor_died;
    if (s == slot_state::restarting &&
        target_entry->when_down == static_cast<std::uint32_t>(WhenDown::fail_fast)) {
      return errc::actor_died;
    }
    return errc::ok;
  };
  const errc result = sender_.write(target, to_inbox, box, header, payload, deadline, wait_check{verdict, e});
  if (result == errc::corrupt) {
    arena_.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    log_line(std::to_string(::getpid()), "slot " + std::to_string(target) + "'s " + (to_inbox ? "inbox" : "mailbox") +
                                             " offset " + std::to_string(box) +
                                             " in shared memory does not point at its mailbox");
  }
  return result;
}

bool process::inbox_intact() const noexcept {
  return !inbox_ || arena_.slot(self_).inbox == arena_.offset_of(inbox_->box());
}

namespace {
// An asker that sent nothing for this long was idle (see ask()).
constexpr auto asker_idle = std::chrono::microseconds(200);
}  // namespace


namespace {
// Whether this thread's last reply woke its asker from a futex sleep; read
// and cleared by reply_woke_asker(). initial-exec, as the mailbox's.
thread_local bool t_reply_woke_asker __attribute__((tls_model("initial-exec"))) = false;
}  // namespace

bool reply_woke_asker() noexcept { return std::exchange(t_reply_woke_asker, false); }

void process::reply(slot_id asker, std::uint64_t correlation, errc code, std::span<const std::byte> bytes, type_id type,
                    std::optional<send_deadline> wait) {
  message_header header{code == errc::ok ? type : 0, correlation,
                        flag_system | flag_reply | (static_cast<std::uint32_t>(code) << status_shift)};
  // A reply must not be lost to a momentarily full inbox, but an asker that
  // is gone for good must not hold this process either.
  send_deadline deadline = wait.value_or(send_deadline::after(send_timeout));
  (void)take_woke_sleeper();
  errc result = write(asker, true, header, bytes, deadline);
  t_reply_woke_asker = take_woke_sleeper();
  // A slot table entry found corrupt is repaired by the supervisor within a
  // tick of its monitor: try again until then rather than drop the reply.
  const auto retry_until = result != errc::corrupt ? steady::time_point{}
                                                   : std::min(deadline.when(), steady::now() + std::chrono::seconds(2));
  while (result == errc::corrupt && steady::now() < retry_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    result = write(asker, true, header, bytes, deadline);
  }
  if (result == errc::too_large || result == errc::arena_exhausted) {
    // The value cannot travel, but the asker must still hear why at once.
    const std::string why = "the reply of " + std::to_string(bytes.size()) + " bytes could not be sent: " +
                            describe_failure(result, bytes.size());
    header.type = 0;
    header.flags = flag_system | flag_reply | (static_cast<std::uint32_t>(result) << status_shift);
    result = write(asker, true, header, std::as_bytes(std::span(why)),
                   wait ? deadline : send_deadline(steady::now() + send_timeout));
  }
  if (result != errc::ok && result != errc::no_such_actor) {
    log_line(std::to_string(::getpid()), "reply to slot " + std::to_string(asker) +
                                             " dropped: " + std::string(to_string(result)));
  }
}

namespace {
// How many states a process keeps for reuse: as many asks as it usually
// has outstanding at once; more are allocated and freed as before.
constexpr std::size_t kept_states = 16;
constexpr std::size_t kept_nodes = 64;
}  // namespace

std::shared_ptr<pending> process::acquire_pending_locked() {
  for (auto& candidate : states_) {
    // Held by nothing else: no Future and no table entry, and nothing but
    // this table can hand out a new reference. The fence pairs with the
    // release of the last holder's reference, so its reads are done.
    if (candidate.use_count() != 1) continue;
    std::atomic_thread_fence(std::memory_order_acquire);
    pending& s = *candidate;
    s.done = false;
    s.finished.store(false, std::memory_order_relaxed);
    s.sleeping.store(0, std::memory_order_relaxed);
    s.code = errc::ok;
    s.text.clear();
    s.value.clear();
    s.value_type = 0;
    s.target = no_slot;
    s.peer_asleep = false;
    s.on_reply = nullptr;
    s.callbacks.clear();
    s.canceller = nullptr;
    s.target_gone_since = {};
    return candidate;
  }
  auto fresh = std::make_shared<pending>();
  if (states_.size() < kept_states) states_.push_back(fresh);
  return fresh;
}

void process::track_locked(std::uint64_t correlation, std::shared_ptr<pending> state) {
  tracked& place = recent_[correlation % recent_.size()];
  if (place.state == nullptr) {
    place.correlation = correlation;
    place.state = std::move(state);
    return;
  }
  if (spare_nodes_.empty()) {
    pending_.emplace(correlation, std::move(state));
    return;
  }
  pending_table::node_type node = std::move(spare_nodes_.back());
  spare_nodes_.pop_back();
  node.key() = correlation;
  node.mapped() = std::move(state);
  pending_.insert(std::move(node));
}

std::shared_ptr<pending> process::untrack(std::uint64_t correlation) {
  std::lock_guard guard(pending_lock_);
  tracked& place = recent_[correlation % recent_.size()];
  if (place.state != nullptr && place.correlation == correlation) return std::move(place.state);
  auto it = pending_.find(correlation);
  if (it == pending_.end()) return nullptr;
  pending_table::node_type node = pending_.extract(it);
  std::shared_ptr<pending> state = std::move(node.mapped());
  if (spare_nodes_.size() < kept_nodes) spare_nodes_.push_back(std::move(node));
  return state;
}

std::shared_ptr<pending> process::ask(slot_id target, outgoing message, steady::duration timeout,
                                      std::function<void()> on_reply) {
  start_pump();
  const auto now = steady::now();
  std::shared_ptr<pending> state;
  {
    std::lock_guard guard(pending_lock_);
    state = acquire_pending_locked();
    state->on_reply = std::move(on_reply);
    state->asked = now;
    state->deadline = now + timeout;
    state->correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
    state->target = target;
    track_locked(state->correlation, state);
  }
  // The reply's lane is made now, by the asker: when shared memory is
  // exhausted the ask fails here, at once, instead of its reply being
  // dropped later and the asker waiting out its timeout.
  // A lane stays for the run once its bit is set: most asks read only that.
  const auto reply_lane_known = [&] {
    return (inbox_->box()->lane_bits[target / 64].load(std::memory_order_acquire) >> (target % 64) & 1) != 0;
  };
  if (inbox_ && target < max_slots && !reply_lane_known()) {
    std::string problem;
    if (!ensure_lane(arena_, inbox_->box(), target, problem)) {
      const std::string why = "no room for the reply's lane: " + problem;
      complete(state->correlation, errc::arena_exhausted, std::as_bytes(std::span(why)));
      return state;
    }
  }
  message_header header{message.type, state->correlation, message.flags | flag_ask};
  (void)take_woke_sleeper();
  const errc sent = write(target, false, header, message.payload, state->deadline);
  // Parking at once pays off when the receiver was idle: its wake-up takes
  // tens of µs and a spinner would take the CPU it runs on. Not in a loop
  // of asks (the last answer came just now): there the receiver parked only
  // for a moment, and an asker that did not spin for the answer would keep
  // both sides parked, each waking the other, for every ask after.
  const auto idle_for = now.time_since_epoch() - std::chrono::nanoseconds(last_await_end_.load());
  state->peer_asleep = take_woke_sleeper() && idle_for > asker_idle;
  if (sent != errc::ok) {
    std::string why =
        sent == errc::no_such_actor ? target == supervisor_slot
                                          ? "the supervising program has no mailbox: it takes no asks"
                                          : "ask of " + name_of(target) + " failed: it " +
                                                (entry(target) == nullptr ? "names no actor" : "has ended for good")
        : sent == errc::too_large || sent == errc::arena_exhausted
            ? "ask of " + name_of(target) + " failed: " + describe_failure(sent, message.payload.size())
        : sent == errc::closed ? std::string("the asked actor takes no more messages: its mailbox was closed")
                               : "the request could not be sent: " + std::string(to_string(sent));
    complete(state->correlation, sent == errc::actor_died ? errc::actor_died : sent, std::as_bytes(std::span(why)));
  }
  return state;
}

std::string process::describe_failure(errc code, std::size_t bytes) const {
  switch (code) {
    case errc::too_large:
      return "a message of " + std::to_string(bytes) + " bytes exceeds the limit of " +
             std::to_string(arena_.header()->max_message_size) + " bytes (Options::max_message_size)";
    case errc::arena_exhausted: {
      // The arena's own limit or a full /dev/shm, as the allocation found.
      std::string why = sender_.shortage();
      return why.empty() ? arena_.shortage(record_size_for(bytes)) : why;
    }
    case errc::corrupt:
      return "the run's shared memory failed a check (see the log)";
    case errc::timeout:
      return "timeout: its mailbox stayed full until the send's deadline (the timeout given, or "
             "Options::send_timeout): the actor takes messages slower than they come, or is stuck or down";
    default:
      return std::string(to_string(code));
  }
}

void process::forget(std::uint64_t correlation) { (void)untrack(correlation); }

namespace {

// Callbacks of states ended while this thread holds the inbox (draining it)
// wait here and run once it lets go: a callback may ask, or wait, itself.
// initial-exec, as thread_encoder's (codec.cpp): a waiter that spins for
// its reply sets it on every poll.
thread_local std::vector<std::function<void()>>* deferred_callbacks __attribute__((tls_model("initial-exec"))) =
    nullptr;

void run_callbacks(std::vector<std::function<void()>>& callbacks) {
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& e) {
      log_line(std::to_string(::getpid()), std::string("a future's callback threw: ") + e.what());
    } catch (...) {
      log_line(std::to_string(::getpid()), "a future's callback threw something that is not a std::exception");
    }
  }
  callbacks.clear();
}

// Declared before the inbox lock it covers, so it runs what was deferred
// after that lock is released.
class callback_batch {
 public:
  callback_batch() : outer_(deferred_callbacks) { deferred_callbacks = &held_; }
  callback_batch(const callback_batch&) = delete;
  callback_batch& operator=(const callback_batch&) = delete;
  ~callback_batch() {
    deferred_callbacks = outer_;
    if (!held_.empty()) run_callbacks(held_);
  }

 private:
  std::vector<std::function<void()>>* outer_;
  std::vector<std::function<void()>> held_;
};

}  // namespace

void process::complete(std::uint64_t correlation, errc code, std::span<const std::byte> bytes, type_id type) {
  std::shared_ptr<pending> state = untrack(correlation);
  if (state == nullptr) return;  // late reply to an ask that timed out or failed
  (void)finish(*state, code, bytes, type);
}

namespace {
// The states the thread in park_on_inbox is about to sleep for, while it
// drains the inbox: one of them ended there needs no wake-up, since that
// thread looks at them before it sleeps.
thread_local std::span<pending* const> parking_states __attribute__((tls_model("initial-exec")));

class parking_scope {
 public:
  explicit parking_scope(std::span<pending* const> states) noexcept { parking_states = states; }
  parking_scope(const parking_scope&) = delete;
  parking_scope& operator=(const parking_scope&) = delete;
  ~parking_scope() { parking_states = {}; }
};

bool parking_on(const pending& state) noexcept {
  for (const pending* s : parking_states) {
    if (s == &state) return true;
  }
  return false;
}

// Records the outcome of a state not yet done, under its mutex, and takes
// its callbacks out into `callbacks`; false when it was done already.
bool record_outcome(pending& state, errc code, std::span<const std::byte> bytes, type_id type,
                    std::vector<std::function<void()>>& callbacks) {
  if (state.done) return false;
  state.code = code;
  if (code == errc::ok) {
    state.value.assign(bytes.begin(), bytes.end());
    state.value_type = type;
  } else {
    state.text.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  state.done = true;
  state.finished.store(true);
  if (state.ready_waiters != 0) state.ready.notify_all();
  if (state.on_reply) callbacks.push_back(std::move(state.on_reply));
  state.on_reply = nullptr;
  for (auto& callback : state.callbacks) callbacks.push_back(std::move(callback));
  state.callbacks.clear();
  state.canceller = nullptr;
  return true;
}
}  // namespace

bool process::finish(pending& state, errc code, std::span<const std::byte> bytes, type_id type) {
  std::vector<std::function<void()>> callbacks;
  {
    std::unique_lock guard(state.mutex);
    if (!record_outcome(state, code, bytes, type, callbacks)) return false;
    // A thread awaiting this state may sleep on the inbox futex: wake it,
    // unless the only one is this thread on its way to sleep (it looks at
    // the state again before it does).
    signal_fence();
    const int sleepers = state.sleeping.load();
    if (inbox_ && sleepers > 0 && sleepers > (parking_on(state) ? 1 : 0)) {
      mailbox* box = inbox_->box();
      box->wake_seq.fetch_add(1, std::memory_order_release);
      futex_wake(box->wake_seq, INT32_MAX);
    }
  }
  if (callbacks.empty()) return true;
  if (deferred_callbacks != nullptr) {
    for (auto& callback : callbacks) deferred_callbacks->push_back(std::move(callback));
  } else {
    run_callbacks(callbacks);
  }
  return true;
}

bool process::settle(pending& state, steady::time_point now) {
  if (state.finished.load(std::memory_order_acquire)) return true;
  if (state.local) return false;
  auto end_with = [&](errc code, const std::string& text) {
    forget(state.correlation);
    (void)finish(state, code, std::as_bytes(std::span(text)));
    return true;
  };
  if (now >= state.deadline) return end_with(errc::timeout, "no reply within the ask's timeout");
  if (!inbox_intact()) {
    // The reply has no way in: say so now rather than time out in silence.
    const std::string why =
        "this process's inbox offset in the shared slot table was overwritten; the reply cannot arrive";
    arena_.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    log_line(std::to_string(::getpid()), why);
    return end_with(errc::corrupt, why);
  }
  if (state.target == no_slot) return false;
  // An actor that exited for good will never answer. Wait two slices after
  // first seeing that, so a reply it sent just before exiting still lands.
  slot_entry* e = entry(state.target);
  if (e != nullptr && !is_terminal(state_of(*e))) return false;
  {
    std::lock_guard guard(state.mutex);
    if (state.target_gone_since == steady::time_point{}) {
      state.target_gone_since = now;
      return false;
    }
    if (now - state.target_gone_since < 2 * liveness_slice) return false;
  }
  return e == nullptr ? end_with(errc::no_such_actor, "no such actor")
                      : end_with(errc::actor_died, "the actor exited without replying");
}

void process::watch(const std::shared_ptr<pending>& state) {
  start_pump();
  std::lock_guard guard(watched_mutex_);
  watched_.push_back(state);
}

bool process::settle_watched() {
  std::vector<std::shared_ptr<pending>> live;
  {
    std::lock_guard guard(watched_mutex_);
    if (watched_.empty()) return false;
    std::erase_if(watched_, [&](const std::weak_ptr<pending>& w) {
      auto state = w.lock();
      if (state == nullptr || state->finished.load(std::memory_order_acquire)) return true;
      live.push_back(std::move(state));
      return false;
    });
  }
  const auto now = steady::now();
  for (auto& state : live) (void)settle(*state, now);
  return !live.empty();
}

void process::start_pump() {
  // Every ask and wait calls this: past the first, one load instead of
  // call_once (which sets two thread-locals before its pthread_once).
  if (pump_checked_.load(std::memory_order_acquire)) return;
  std::call_once(pump_started_, [this] {
    mailbox* box = arena_.mailbox_at(arena_.slot(self_).inbox);
    if (box == nullptr) return;
    inbox_ = std::make_unique<receiver>(arena_, box, [this](std::uint32_t from, const std::string& problem) {
      log_line("inbox of slot " + std::to_string(self_),
               "corrupt record from slot " + std::to_string(from) + ": " + problem);
    });
    pump_thread_ = std::thread([this] { pump(); });
  });
  pump_checked_.store(true, std::memory_order_release);
}

void process::stop_pump() {
  pump_stop_.store(true);
  if (pump_thread_.joinable()) {
    mailbox* box = inbox_->box();
    box->wake_seq.fetch_add(1);
    futex_wake(box->wake_seq, INT32_MAX);
    pump_thread_.join();
  }
}

void process::take_in(const delivery& d) {
  if ((d.head.flags & flag_reply) != 0) {
    complete(d.head.correlation, static_cast<errc>(d.head.flags >> status_shift), d.payload, d.head.type);
  } else if (!(inbox_handler_ && inbox_handler_(d))) {
    log_line("inbox of slot " + std::to_string(self_),
             "ignored a record of unexpected type " + std::to_string(d.head.type));
  }
  inbox_->commit(d);
}

void process::drain_inbox() {
  while (auto d = inbox_->try_next()) take_in(*d);
}

void process::poll_inbox(slot_id from, bool everything) {
  if (!inbox_) return;
  callback_batch batch;
  std::unique_lock lock(inbox_lock_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (everything || from >= max_slots) {
    (void)inbox_->prefer(from);  // its record first
    drain_inbox();
    return;
  }
  while (inbox_->prefer(from)) {
    auto d = inbox_->try_next();
    if (!d) break;
    take_in(*d);
  }
}

void process::drain_inbox_now() {
  if (!inbox_) return;
  callback_batch batch;
  std::lock_guard lock(inbox_lock_);
  drain_inbox();
}

// How long the pump stays off the inbox futex after the last ask ended: a
// program that asks in a loop keeps its replies waking only their askers.
constexpr auto pump_linger = std::chrono::milliseconds(10);

void process::pump() {
  while (!pump_stop_.load(std::memory_order_relaxed)) {
    const bool watching = settle_watched();
    const auto since_ask = steady::now().time_since_epoch() - std::chrono::nanoseconds(last_await_end_.load());
    if (awaiters_.load() > 0 || since_ask < pump_linger) {
      std::unique_lock lock(pump_mutex_);
      pump_idle_.wait_for(lock, pump_linger, [this] { return pump_stop_.load(); });
      continue;
    }
    pump_on_futex_.store(true);
    park_on_inbox(watching ? liveness_slice / 2 : std::chrono::milliseconds(100), {});
    pump_on_futex_.store(false);
  }
}

// Drains the inbox if no other thread is at it, then sleeps on its futex
// until a record arrives or `timeout` passes. `states`: a waiter's, whose
// completion by another thread also ends the sleep.
void process::park_on_inbox(steady::duration timeout, std::span<pending* const> states, bool unfenced) {
  mailbox* box = inbox_->box();
  const std::uint32_t seq = box->wake_seq.load(std::memory_order_acquire);
  arm_wake(box);
  box->parked.fetch_add(1);
  for (pending* state : states) state->sleeping.fetch_add(1);
  // Pairs with wake_consumer's and finish()'s signal_fence; a slow
  // waiter's first sleep is short and unfenced (park_fence, futex.hpp).
  timeout = park_fence(unfenced, timeout);
  // Drained until a poll found every lane empty, after the fence above:
  // what comes later wakes this thread (wake_consumer sees it parked).
  bool drained = false;
  {
    callback_batch batch;
    std::unique_lock lock(inbox_lock_, std::try_to_lock);
    if (lock.owns_lock()) {
      parking_scope parking(states);
      drain_inbox();
      drained = true;
    }
  }
  bool wanted = states.empty() ? awaiters_.load() == 0 : true;
  for (pending* state : states) wanted = wanted && !state->finished.load();
  if (drained && wanted && !pump_stop_.load(std::memory_order_relaxed)) {
    futex_wait(box->wake_seq, seq, timeout);
  } else if (!drained) {
    std::this_thread::yield();  // another thread holds the inbox: let it finish
  }
  for (pending* state : states) state->sleeping.fetch_sub(1);
  box->parked.fetch_sub(1);
}

void process::begin_await() {
  // This thread is the inbox's consumer for the whole wait: move the pump
  // off the futex if it sleeps there, or a reply would wake it too.
  awaiters_.fetch_add(1);
  if (pump_on_futex_.load()) {
    mailbox* box = inbox_->box();
    box->wake_seq.fetch_add(1, std::memory_order_release);
    futex_wake(box->wake_seq, INT32_MAX);
  }
}

void process::end_await(steady::time_point end) {
  last_await_end_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(end.time_since_epoch()).count());
  awaiters_.fetch_sub(1);
}

bool process::target_shares_cpu(slot_id target, steady::time_point now) const noexcept {
  const int cpu = pinned_cpu(now);
  if (slot_entry* me = entry(self_)) note_wait_cpu(*me, cpu);
  slot_entry* peer = target == self_ ? nullptr : entry(target);
  return peer != nullptr && waits_on_cpu(*peer, cpu);
}

void process::await_reply(pending& state, steady::time_point limit) {
  begin_await();
  // Hot path: poll for the reply while replies usually come within the
  // spin. The clock is read first after 16 polls: a reply that comes
  // sooner (a hot round trip) costs no clock read here at all.
  const std::chrono::nanoseconds budget = state.peer_asleep ? std::chrono::nanoseconds{0} : reply_spin_.get();
  bool unfenced = reply_spin_.slow();  // replies usually take long: the first sleep may skip the membarrier
  std::optional<steady::time_point> start;
  steady::time_point spin_end;
  for (unsigned i = 1; !state.finished.load(std::memory_order_acquire); ++i) {
    // A waiter that will park soon (its peer was asleep) leaves the other
    // lanes to the park's drain.
    poll_inbox(state.target, i % 16 == 1 && !state.peer_asleep);
    if (i % 16 == 0) {
      const auto now = steady::now();
      if (!start) {
        start = now;
        spin_end = now + budget;
      }
      if (now > spin_end || target_shares_cpu(state.target, now)) break;
    }
    _mm_pause();
  }
  if (!start) {
    // Answered within the first polls: a wait of about nothing, ended now,
    // which is (for the pump's linger and the next ask's idle test) close
    // enough to when this state's ask went or this wait began.
    reply_spin_.waited(std::chrono::nanoseconds{0});
    end_await(state.local ? steady::now() : state.asked);
    return;
  }
  // Cold path: sleep on the inbox futex.
  pending* const mine[] = {&state};
  const auto until = state.local ? limit : std::min(state.deadline, limit);
  while (!state.finished.load(std::memory_order_acquire)) {
    const auto now = steady::now();
    if (now >= until) break;
    park_on_inbox(std::min<steady::duration>(until - now, liveness_slice), mine, std::exchange(unfenced, false));
    // Woken, most often by the reply itself: take it in now, not as the
    // next park's drain, which would first run that park's fence (a
    // membarrier) on the way to the answer.
    poll_inbox(state.target);
    if (state.finished.load(std::memory_order_acquire)) break;
    if (state.target != no_slot && steady::now() - now >= liveness_slice / 2) break;  // time to look at the target
  }
  const auto end = steady::now();
  reply_spin_.waited(end - *start);
  end_await(end);
}

std::size_t process::await_any(std::span<pending* const> states, steady::time_point limit) {
  begin_await();
  std::size_t found = states.size();
  for (;;) {
    poll_inbox();
    for (std::size_t i = 0; i < states.size() && found == states.size(); ++i) {
      if (states[i]->finished.load(std::memory_order_acquire)) found = i;
    }
    if (found != states.size()) break;
    const auto now = steady::now();
    for (std::size_t i = 0; i < states.size() && found == states.size(); ++i) {
      if (settle(*states[i], now)) found = i;
    }
    if (found != states.size() || now >= limit) break;
    park_on_inbox(std::min<steady::duration>(limit - now, liveness_slice / 2), states);
  }
  end_await(steady::now());
  return found;
}

// ---- the entry points of procactor/detail/core.hpp ------------------------

bool is_ready(const pending& state) { return state.finished.load(std::memory_order_acquire); }

// A fork() copy has none of the threads that would end a wait on the run.
void refuse_in_fork_copy(const pending& state) {
  if (process::fork_copy() && !state.finished.load(std::memory_order_acquire)) {
    throw error(errc::not_supervisor, std::string("cannot wait for this outcome: ") + process::none_reason());
  }
}

// An actor that waits, on the thread that handles its messages, for the
// answer to an ask of itself would wait out the ask's timeout: it reads the
// ask only after the wait returns.
void refuse_own_ask(const process& p, const pending& state) {
  if (state.target != p.self() || std::this_thread::get_id() != p.consumer) return;
  if (state.finished.load(std::memory_order_acquire)) return;
  throw error(errc::invalid_argument, "a wait for the answer to " + name_of(p.self()) +
                                          "'s ask of itself, on the thread that handles its messages: it could "
                                          "answer only after this wait returns (send to self() instead, or call "
                                          "the handling code directly)");
}

bool wait_until(pending& state, clock::time_point deadline) {
  process* p = process::current();
  if (p == nullptr) refuse_in_fork_copy(state);
  if (p != nullptr) {
    refuse_own_ask(*p, state);
    p->start_pump();
  }
  if (p == nullptr || !p->can_await()) {
    // No inbox to wait on: only this process's own code can end the state.
    std::unique_lock lock(state.mutex);
    ++state.ready_waiters;
    const bool done = state.ready.wait_until(lock, deadline, [&] { return state.done; });
    --state.ready_waiters;
    return done;
  }
  // A get() (no deadline of its own) waits first: a hot round trip reads no
  // clock before its reply is in. A bounded wait looks at the clock first,
  // so that wait_for(0) does not spin.
  bool look_first = deadline != clock::time_point::max();
  for (;;) {
    if (state.finished.load(std::memory_order_acquire)) return true;
    if (look_first) {
      const auto now = steady::now();
      if (p->settle(state, now)) return true;
      if (now >= deadline) return false;
    }
    look_first = true;
    p->await_reply(state, deadline);
  }
}

std::size_t wait_any(std::span<pending* const> states, clock::time_point deadline) {
  process* p = process::current();
  if (p == nullptr) {
    for (std::size_t i = 0; i < states.size(); ++i) {
      if (states[i]->finished.load(std::memory_order_acquire)) return i;
    }
    for (const pending* state : states) refuse_in_fork_copy(*state);
  }
  if (p != nullptr) {
    // Only when every one of them is such a wait: another can end it.
    const bool all_own = !states.empty() && std::all_of(states.begin(), states.end(), [&](const pending* state) {
      return state->target == p->self() && std::this_thread::get_id() == p->consumer &&
             !state->finished.load(std::memory_order_acquire);
    });
    if (all_own) refuse_own_ask(*p, *states.front());
    p->start_pump();
  }
  if (p != nullptr && p->can_await()) return p->await_any(states, deadline);
  for (;;) {  // no inbox: only this process's own code can end them
    for (std::size_t i = 0; i < states.size(); ++i) {
      if (states[i]->finished.load(std::memory_order_acquire)) return i;
    }
    if (steady::now() >= deadline) return states.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::span<const std::byte> await(pending& state) {
  (void)wait_until(state, clock::time_point::max());
  std::lock_guard lock(state.mutex);
  if (state.code != errc::ok) throw error(state.code, state.text);
  return state.value;
}

std::shared_ptr<pending> make_local_pending() {
  auto state = std::make_shared<pending>();
  state->local = true;
  state->deadline = steady::time_point::max();
  return state;
}

bool fulfil(pending& state, errc code, std::span<const std::byte> bytes, type_id type) {
  if (process* p = process::current()) return p->finish(state, code, bytes, type);
  // No runtime in this process (any more): nobody sleeps on an inbox.
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard guard(state.mutex);
    if (!record_outcome(state, code, bytes, type, callbacks)) return false;
  }
  run_callbacks(callbacks);
  return true;
}

void pass_outcome(const pending& from, pending& to) {
  errc code;
  std::vector<std::byte> bytes;
  type_id type;
  {
    std::lock_guard guard(const_cast<pending&>(from).mutex);
    code = from.code;
    type = from.value_type;
    if (code == errc::ok) {
      bytes = from.value;
    } else {
      const auto text = std::as_bytes(std::span(from.text));
      bytes.assign(text.begin(), text.end());
    }
  }
  (void)fulfil(to, code, bytes, code == errc::ok ? type : 0);
}

errc outcome(const pending& state) {
  std::lock_guard guard(const_cast<pending&>(state).mutex);
  return state.done ? state.code : errc::ok;
}

void on_done(const std::shared_ptr<pending>& state, std::function<void()> callback) {
  // No thread of a fork() copy would ever run it.
  if (process::current() == nullptr) refuse_in_fork_copy(*state);
  {
    std::lock_guard guard(state->mutex);
    if (!state->done) {
      state->callbacks.push_back(std::move(callback));
      callback = nullptr;
    }
  }
  if (callback) {
    // Already done: it runs here, and a throw is logged and ignored, as
    // for one that runs when the future ends.
    std::vector<std::function<void()>> now;
    now.push_back(std::move(callback));
    run_callbacks(now);
    return;
  }
  // Nobody may wait for it: the pump ends it if its target dies or its
  // deadline passes, so that the callback runs then.
  if (!state->local) {
    if (process* p = process::current()) p->watch(state);
  }
}

void set_canceller(pending& state, std::function<bool()> canceller) {
  std::lock_guard guard(state.mutex);
  if (!state.done) state.canceller = std::move(canceller);
}

bool cancel(pending& state) {
  std::function<bool()> canceller;
  {
    std::lock_guard guard(state.mutex);
    if (state.done || !state.canceller) return false;
    canceller = state.canceller;
  }
  return canceller();
}

void check_reply_type(const pending& state, type_id expected, std::string_view expected_name) {
  if (state.value_type == expected) return;
  const std::string_view got = message_name(state.value_type);
  throw error(errc::type_mismatch,
              "the reply is " + (got.empty() ? "of unknown type id " + std::to_string(state.value_type) : std::string(got)) +
                  ", not the " + std::string(expected_name) + " the ask expects");
}

errc try_send(slot_id target, const outgoing& message) {
  return need_process().write(target, false, {message.type, message.correlation, message.flags}, message.payload,
                              std::nullopt);
}

void send(slot_id target, const outgoing& message, clock::duration timeout) {
  const errc result = need_process().write(target, false, {message.type, message.correlation, message.flags},
                                           message.payload, send_deadline::after(timeout));
  if (result == errc::ok) return;
  if (target == supervisor_slot && result == errc::no_such_actor) {
    throw error(result,
                "send to the supervising program failed: it has no mailbox, and receives only the replies to its "
                "asks (answer one with Message::reply)");
  }
  throw error(result, "send to " + name_of(target) + " failed: " +
                         need_process().describe_failure(result, message.payload.size()));
}

std::shared_ptr<pending> ask(slot_id target, outgoing message, clock::duration timeout,
                             std::function<void()> on_reply) {
  return need_process().ask(target, message, timeout, std::move(on_reply));
}

namespace {

// An ActorRef() names no actor: close, join and kill refuse it as send does.
slot_entry& entry_of(process& p, slot_id target, const char* call) {
  slot_entry* e = p.entry(target);
  if (e == nullptr) {
    throw error(
        errc::no_such_actor,
        std::string(call) + "() of " + (target == no_slot ? "an invalid ActorRef" : "slot " + std::to_string(target)));
  }
  return *e;
}

}  // namespace

void close(slot_id target) {
  process& p = need_process();
  const slot_entry& e = entry_of(p, target, "close");
  if (mailbox* box = p.shm().mailbox_at(e.mailbox)) {
    box->closed.store(mailbox_closed, std::memory_order_release);
    box->wake_seq.fetch_add(1, std::memory_order_release);
    futex_wake(box->wake_seq, 1);
  }
}

bool join(slot_id target, clock::duration timeout) {
  process& p = need_process();
  (void)entry_of(p, target, "join");
  if (p.join_hook) return p.join_hook(target, timeout);
  const auto deadline = steady::now() + timeout;
  for (;;) {
    slot_entry* e = p.entry(target);
    if (e == nullptr || is_terminal(state_of(*e))) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

pid_owner owner_in_stat(const char* stat_line, int supervisor) noexcept {
  // comm may hold anything, ')' and spaces too: parse after the last ')'.
  const char* close = std::strrchr(stat_line, ')');
  char state = 0;
  int parent = 0;
  if (close == nullptr || std::sscanf(close + 1, " %c %d", &state, &parent) != 2) return pid_owner::foreign;
  // A task its parent is reaping shows X and, once unhashed, parent 0: an
  // exit under way. An actor's zombie keeps its parent, the supervisor (a
  // subreaper).
  if (state == 'X' || state == 'x' || (state == 'Z' && parent == 0)) return pid_owner::exiting;
  return parent == supervisor ? pid_owner::actor : pid_owner::foreign;
}

namespace {

// The pid in `e`, if it names a child of this run's supervisor; else 0. A pid
// comes from shared memory, and a stray one handed to kill(2) would signal
// some other process (group): it is checked against the kernel's own record
// of the process's parent first.
int checked_pid(process& p, slot_id slot, const slot_entry& e) {
  const int pid = e.pid.load(std::memory_order_acquire);
  if (pid <= 0) return 0;
  const int supervisor = p.is_supervisor() ? static_cast<int>(::getpid()) : static_cast<int>(::getppid());
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char text[512] = {};
  if (FILE* f = std::fopen(path, "re")) {
    (void)!std::fread(text, 1, sizeof text - 1, f);
    std::fclose(f);
  }
  if (text[0] == '\0') return 0;  // no such process (reaped a moment ago): nothing to signal
  const pid_owner owner = owner_in_stat(text, supervisor);
  if (owner == pid_owner::actor) return pid;
  if (owner == pid_owner::exiting) return 0;  // an incarnation being reaped: nothing to signal, nothing wrong
  p.shm().header()->corruptions.fetch_add(1, std::memory_order_relaxed);
  log_line(std::to_string(::getpid()), "slot " + std::to_string(slot) + "'s pid " + std::to_string(pid) +
                                           " in shared memory is not an actor of this run; not used");
  return 0;
}

}  // namespace

void kill(slot_id target) {
  process& p = need_process();
  slot_entry& e = entry_of(p, target, "kill");
  e.no_restart.store(1, std::memory_order_release);
  // The actor leads its own process group.
  if (const int pid = checked_pid(p, target, e); pid > 0) ::kill(-pid, SIGKILL);
}

int pid_of(slot_id target) {
  process& p = need_process();
  slot_entry* e = p.entry(target);
  return e == nullptr ? 0 : checked_pid(p, target, *e);
}

std::string name_of(slot_id target) {
  process* p = process::current();
  slot_entry* e = p == nullptr ? nullptr : p->entry(target);
  if (e == nullptr) return target == no_slot ? "(invalid actor)" : "slot " + std::to_string(target);
  return std::string(e->name, strnlen(e->name, sizeof e->name));
}

std::string type_of(slot_id target) {
  const slot_entry* e = need_process().entry(target);
  return e == nullptr ? std::string() : std::string(e->type, strnlen(e->type, sizeof e->type));
}

slot_id find(std::string_view name) {
  process& p = need_process();
  const std::uint32_t count = p.shm().header()->slot_count.load(std::memory_order_acquire);
  for (slot_id s = 1; s < count && s < max_slots; ++s) {
    slot_entry* e = p.entry(s);
    if (e != nullptr && name == std::string_view(e->name, strnlen(e->name, sizeof e->name))) return s;
  }
  return no_slot;
}

void monitor(slot_id target, bool add) {
  process& p = need_process();
  slot_entry* e = p.entry(target);
  if (e == nullptr || target == supervisor_slot) {
    throw error(errc::no_such_actor, "cannot monitor " + name_of(target) + ": no such actor");
  }
  if (p.monitor_hook) {  // the supervising program: its Downs are queued, not mailed
    p.monitor_hook(target, add);
    return;
  }
  const std::uint64_t bit = std::uint64_t{1} << (p.self() % 64);
  auto& word = e->monitors[p.self() / 64];
  if (add) {
    word.fetch_or(bit, std::memory_order_acq_rel);
  } else {
    word.fetch_and(~bit, std::memory_order_acq_rel);
  }
}

slot_id self_slot() noexcept {
  process* p = process::current();
  return p == nullptr ? no_slot : p->self();
}

clock::duration default_send_timeout() noexcept {
  process* p = process::current();
  return p == nullptr ? std::chrono::seconds(30) : p->send_timeout;
}

slot_id spawn(std::string_view type, std::string_view name, const SpawnOptions& options) {
  process& p = need_process();
  if (!p.spawn_hook) throw error(errc::not_supervisor, "only the supervisor process can spawn actors");
  return p.spawn_hook(type, name, options);
}

}  // namespace procactor::detail
