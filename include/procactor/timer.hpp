// procactor::send_after and procactor::Timer — a message sent later.
//
//   auto reminder = procactor::send_after(worker, 5s, Check{});   // program or actor
//   if (reminder.cancel()) { /* it had not gone yet, and now never will */ }
//
// Inside an actor, ActorBase::start_timer(interval, msg) sends `msg` to the
// actor itself every `interval` (actor.hpp).
//
// The message is encoded when the timer is set; when it is due, a thread of
// this process sends those bytes to the target's mailbox, where it is an
// ordinary message from this process (from the actor itself for its own
// timers), queued behind what this process sent before.
//
// Timers belong to the process that set them: they end with its Runtime,
// and in an actor as soon as it is asked to stop (closed, or a restart).
// None survives a restart; an actor that needs one arms it in on_start.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>

#include "actor_ref.hpp"
#include "codec.hpp"
#include "detail/core.hpp"
#include "message.hpp"

namespace procactor {

namespace detail {
struct timer_state;
// Arms a timer: `payload` (copied) goes to `target` after `delay`, and then
// every `interval` when that is not zero. Throws error(no_such_actor) for a
// target that is not in the run, error(too_large) for a payload over
// Options::max_message_size.
std::shared_ptr<timer_state> start_timer(slot_id target, type_id type, std::span<const std::byte> payload,
                                         clock::duration delay, clock::duration interval);
bool cancel_timer(timer_state& state);
bool timer_active(const timer_state& state) noexcept;
}  // namespace detail

// A handle on a timer. Copies share the timer; dropping every copy does not
// cancel it.
class Timer {
 public:
  Timer() = default;
  explicit Timer(std::shared_ptr<detail::timer_state> state) : state_(std::move(state)) {}

  // Stops the timer. True when this call stopped it before it sent: a
  // one-shot timer that had not fired, or a periodic one that was still
  // running. When cancel() returns, the timer sends nothing more (a send in
  // progress on the timer thread is waited for). False for a fired,
  // cancelled, or ended timer (see active()).
  bool cancel() const { return state_ != nullptr && detail::cancel_timer(*state_); }
  // True while it may still send: a one-shot timer that has not fired yet,
  // a periodic one until it is cancelled or ends (its target closed or gone,
  // or the actor that set it is stopping).
  [[nodiscard]] bool active() const noexcept { return state_ != nullptr && detail::timer_active(*state_); }
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

 private:
  std::shared_ptr<detail::timer_state> state_;
};

// Sends `message` to `target` once `delay` has passed. Works in the
// supervising program and in actors. A target that is closed or gone by then
// does not get it (silently); a full mailbox is tried again until
// Options::send_timeout has passed, then the message is dropped with a log
// line.
template <registered_message M, class Rep, class Period>
Timer send_after(ActorRef target, std::chrono::duration<Rep, Period> delay, const M& message) {
  return Timer(detail::start_timer(target.slot(), message_traits<M>::id, detail::thread_encoder().encode(message),
                                   detail::bounded(delay), detail::clock::duration::zero()));
}

}  // namespace procactor
