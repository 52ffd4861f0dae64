#include "timer.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstring>

#include "procactor/runtime.hpp"
#include "procactor/timer.hpp"
#include "process.hpp"

namespace procactor::detail {
namespace {

// A one-shot timer that finds the lane full tries again after this, then
// twice as long each time, up to the most.
constexpr auto first_retry = std::chrono::milliseconds(1);
constexpr auto most_retry = std::chrono::milliseconds(50);
// Cancelled timers stay in the heap until they are due; past this many (and
// half the heap), it is rebuilt without them, so that a program that sets
// and cancels long timers in a loop does not grow it for ever.
constexpr std::size_t compact_after = 64;

std::string message_label(type_id type) {
  const std::string_view name = message_name(type);
  return name.empty() ? "type " + std::to_string(type) : std::string(name);
}

}  // namespace

// Made with the process, before process::current() names it: what it needs
// of its slot it reads from the slot itself.
timer_service::timer_service(process& p) : process_(p), who_("supervisor") {
  if (p.is_supervisor()) return;
  const slot_entry& e = p.shm().slot(p.self());
  who_.assign(e.name, strnlen(e.name, sizeof e.name));
  own_box_ = p.shm().mailbox_at(e.mailbox);
}

timer_service::~timer_service() { stop(); }

std::shared_ptr<timer_state> timer_service::start(slot_id target, type_id type, std::span<const std::byte> payload,
                                                  steady::duration delay, steady::duration interval) {
  if (target == supervisor_slot || process_.entry(target) == nullptr) {
    throw error(errc::no_such_actor, "a timer for " + name_of(target) + ": no such actor");
  }
  if (payload.size() > process_.shm().header()->max_message_size) {
    throw error(errc::too_large, "a timer's message: " + process_.describe_failure(errc::too_large, payload.size()));
  }
  auto state = std::make_shared<timer_state>();
  state->target = target;
  state->type = type;
  state->payload.assign(payload.begin(), payload.end());
  state->interval = interval;
  state->due = steady::now() + std::max(delay, steady::duration::zero());
  std::lock_guard guard(mutex_);
  if (stopped_ || (own_box_ != nullptr && own_box_->closed.load(std::memory_order_acquire) != 0)) {
    // A handler that re-arms its timer while the actor drains its mailbox
    // is not an error: the timer is simply never armed.
    state->status.store(timer_status::stopped, std::memory_order_release);
    return state;
  }
  push(state);
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { loop(); });
  } else {
    wake_.notify_one();
  }
  return state;
}

void timer_service::push(std::shared_ptr<timer_state> state) {
  queue_.push_back({state->due, next_order_++, std::move(state)});
  std::push_heap(queue_.begin(), queue_.end(), later{});
}

bool timer_service::cancel(timer_state& state) {
  // The thread holds the mutex from its look at the status to the end of
  // the send: once this has it, no send of this timer is in progress, and
  // none starts after the status changes.
  std::lock_guard guard(mutex_);
  auto armed = timer_status::armed;
  if (!state.status.compare_exchange_strong(armed, timer_status::cancelled, std::memory_order_acq_rel)) return false;
  if (++cancelled_queued_ > compact_after && cancelled_queued_ * 2 > queue_.size()) compact();
  return true;
}

void timer_service::compact() {
  std::erase_if(queue_, [](const entry& e) { return e.state->status.load() != timer_status::armed; });
  std::make_heap(queue_.begin(), queue_.end(), later{});
  cancelled_queued_ = 0;
}

void timer_service::stop_locked() {
  stopped_ = true;
  for (auto& e : queue_) {
    auto armed = timer_status::armed;
    e.state->status.compare_exchange_strong(armed, timer_status::stopped, std::memory_order_acq_rel);
  }
  queue_.clear();
  cancelled_queued_ = 0;
  wake_.notify_all();
}

void timer_service::stop() {
  {
    std::lock_guard guard(mutex_);
    stop_locked();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void timer_service::loop() {
  pthread_setname_np(pthread_self(), "procactor-timer");
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto now = steady::now();
    // A copy: wait_until reads its time point again after it has let go of
    // the lock, when a push from another thread may have moved the queue.
    const steady::time_point due = queue_.front().due;
    if (now < due) {
      wake_.wait_until(lock, due);
      continue;
    }
    std::pop_heap(queue_.begin(), queue_.end(), later{});
    entry e = std::move(queue_.back());
    queue_.pop_back();
    fire(std::move(e), now);
  }
}

void timer_service::fire(entry e, steady::time_point now) {
  timer_state& t = *e.state;
  if (t.status.load(std::memory_order_acquire) != timer_status::armed) {
    if (cancelled_queued_ > 0) --cancelled_queued_;
    return;
  }
  // An actor asked to stop gets no tick from now on, whether its host has
  // noticed yet or not (it stops this service when it does, and then
  // drains what was sent before).
  if (own_box_ != nullptr && own_box_->closed.load(std::memory_order_acquire) != 0) {
    t.status.store(timer_status::stopped, std::memory_order_release);
    stop_locked();
    return;
  }
  // No deadline: this thread never waits for room, so that one full lane
  // holds up no other timer, and no exit waits on this thread.
  const errc result = process_.write(t.target, false, {t.type, 0, 0}, t.payload, std::nullopt);
  const bool periodic = t.interval > steady::duration::zero();
  switch (result) {
    case errc::ok:
      break;
    case errc::closed:
    case errc::no_such_actor:
    case errc::actor_died:
      // The target has ended (or is ending) for good: nothing to tell anyone.
      t.status.store(timer_status::fired, std::memory_order_release);
      return;
    case errc::full:
      if (periodic) break;  // this tick is skipped; the next comes on time
      if (t.retry == steady::duration::zero()) {
        t.give_up = t.due + process_.send_timeout;
        t.retry = first_retry;
      }
      if (now < t.give_up) {
        t.due = std::min(now + t.retry, t.give_up);
        t.retry = std::min<steady::duration>(t.retry * 2, most_retry);
        push(std::move(e.state));
        return;
      }
      [[fallthrough]];
    default:
      if (!periodic || !t.complained) {
        t.complained = true;
        log_line(who_, "a timer's " + message_label(t.type) + " for " + name_of(t.target) +
                           " was dropped: " + process_.describe_failure(result, t.payload.size()) +
                           (periodic ? " (the timer goes on; later failures are not logged)" : ""));
      }
      if (!periodic) {
        t.status.store(timer_status::fired, std::memory_order_release);
        return;
      }
      break;
  }
  if (!periodic) {
    t.status.store(timer_status::fired, std::memory_order_release);
    return;
  }
  // Fixed rate: the next tick is one interval after the last one's due
  // time, not after now, so handlers' time does not add up. After a stall,
  // the ticks it missed are skipped: the next is the first due after now.
  t.due += t.interval;
  if (t.due <= now) t.due += ((now - t.due) / t.interval + 1) * t.interval;
  push(std::move(e.state));
}

// ---- the entry points of procactor/timer.hpp --------------------------------

std::shared_ptr<timer_state> start_timer(slot_id target, type_id type, std::span<const std::byte> payload,
                                         clock::duration delay, clock::duration interval) {
  process* p = process::current();
  if (p == nullptr) throw error(errc::not_supervisor, process::none_reason());
  return p->timers().start(target, type, payload, delay, interval);
}

bool cancel_timer(timer_state& state) {
  if (state.status.load(std::memory_order_acquire) != timer_status::armed) return false;
  process* p = process::current();
  return p != nullptr && p->timers().cancel(state);
}

bool timer_active(const timer_state& state) noexcept {
  return state.status.load(std::memory_order_acquire) == timer_status::armed;
}

}  // namespace procactor::detail
