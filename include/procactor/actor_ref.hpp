// procactor::ActorRef — a handle on an actor, valid in every process of a run.
//
// A ref names the actor's slot, not a pid: it stays valid across restarts,
// and it can itself travel inside a message.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "codec.hpp"
#include "detail/core.hpp"
#include "future.hpp"
#include "message.hpp"

namespace procactor {

class ActorRef {
 public:
  ActorRef() = default;
  explicit ActorRef(detail::slot_id slot) : slot_(slot) {}

  [[nodiscard]] bool valid() const noexcept { return slot_ != detail::no_slot; }
  [[nodiscard]] detail::slot_id slot() const noexcept { return slot_; }
  [[nodiscard]] std::string name() const { return detail::name_of(slot_); }
  // The pid of the running incarnation; nullopt while none runs (before its
  // first start, between a crash and the restart, after it ended). Never 0 or
  // -1, which kill(2) would take as "my process group" or "everyone".
  [[nodiscard]] std::optional<int> pid() const {
    const int pid = detail::pid_of(slot_);
    return pid > 0 ? std::optional<int>(pid) : std::nullopt;
  }

  // Returns at once: ok, full, closed, no_such_actor or too_large.
  template <registered_message M>
  [[nodiscard]] errc try_send(const M& message) const {
    return detail::try_send(slot_, outgoing_of(message));
  }

  // Blocks while the lane is full, at most `timeout`; throws error on failure.
  template <registered_message M>
  void send(const M& message) const {
    send(message, detail::default_send_timeout());
  }
  template <registered_message M, class Rep, class Period>
  void send(const M& message, std::chrono::duration<Rep, Period> timeout) const {
    detail::send(slot_, outgoing_of(message), detail::bounded(timeout));
  }

  // The handler's return value comes back as the Future's value.
  template <class R, registered_message M, class Rep, class Period>
  Future<R> ask(const M& message, std::chrono::duration<Rep, Period> timeout) const {
    return Future<R>(detail::ask(slot_, outgoing_of(message),
                                 detail::bounded(timeout)));
  }

  // A type that is not a message: said plainly, not as a failed constraint.
  template <class M, class... Rest>
  requires(!registered_message<M>) errc try_send(const M&, Rest&&...)
  const {
    PROCACTOR_NOT_A_MESSAGE("ActorRef::try_send");
    return errc::invalid_argument;
  }
  template <class M, class... Rest>
  requires(!registered_message<M>) void send(const M&, Rest&&...) const { PROCACTOR_NOT_A_MESSAGE("ActorRef::send"); }
  template <class R, class M, class... Rest>
  requires(!registered_message<M>) Future<R> ask(const M&, Rest&&...)
  const {
    PROCACTOR_NOT_A_MESSAGE("ActorRef::ask");
    return {};
  }

  // Graceful: what is queued is handled first, then the actor exits with 0.
  void close() const { detail::close(slot_); }
  // Waits until the actor has exited for good; false on timeout.
  template <class Rep = std::chrono::milliseconds::rep, class Period = std::milli>
  bool join(std::chrono::duration<Rep, Period> timeout = std::chrono::hours(24 * 365)) const {
    return detail::join(slot_, detail::bounded(timeout));
  }
  // SIGKILL, and no restart. (A kill from outside the runtime is a crash and
  // is restarted by policy.)
  void kill() const { detail::kill(slot_); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(slot_);
  }

  friend bool operator==(const ActorRef&, const ActorRef&) = default;

 private:
  template <class M>
  static detail::outgoing outgoing_of(const M& message) {
    return {message_traits<M>::id, detail::thread_encoder().encode(message), 0, 0};
  }

  detail::slot_id slot_ = detail::no_slot;
};

}  // namespace procactor
