// procactor::Future — the result of an ask or a submit.
//
// get() returns the value or throws procactor::error whose code() tells what
// went wrong: timeout, handler_threw (message() is the handler's what()),
// actor_died, no_such_actor, poisoned.
#pragma once

#include <chrono>
#include <memory>
#include <type_traits>

#include "codec.hpp"
#include "detail/core.hpp"

namespace procactor {

template <class T>
class Future {
 public:
  Future() = default;
  explicit Future(std::shared_ptr<detail::pending> state) : state_(std::move(state)) {}

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  [[nodiscard]] bool ready() const { return detail::is_ready(*state_); }

  // Waits up to `timeout` without consuming the result; true when it is there.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return detail::wait_until(*state_, detail::clock::now() + timeout);
  }

  // Blocks until the reply arrives or the ask's own deadline passes. A
  // Future<void> takes any reply; any other checks the reply's type first
  // (errc::type_mismatch names both types).
  T get() const {
    auto bytes = detail::await(*state_);
    if constexpr (std::is_void_v<T>) {
      (void)bytes;
    } else {
      detail::check_reply_type(*state_, detail::reply_type_id<T>, detail::reply_type_name<T>());
      return detail::decode<T>(bytes);
    }
  }

 private:
  std::shared_ptr<detail::pending> state_;
};

}  // namespace procactor
