// procactor::Future — the result of an ask or a submit, and the calls that
// wait on several (as Python's concurrent.futures does).
//
// get() returns the value or throws procactor::error whose code() tells what
// went wrong: timeout, handler_threw (message() is the handler's what()),
// actor_died, no_such_actor, poisoned, cancelled, type_mismatch.
//
//   auto f = calc.ask<int>(Add{2}, 1s);
//   auto g = f.then([](int total) { return total * 10; });   // Future<int>
//   g.on_done([](const procactor::Future<int>& done) { ... });
//   for (auto [i, done] : procactor::as_completed(futures)) use(i, done.get());
//
// Callbacks (on_done, then) run once, on the thread that ends the future: the
// runtime's reply thread, a thread waiting on a future of the same process,
// or the caller itself when the future has ended already. Keep them short
// and do not wait on another future inside one: the reply thread is then
// held up, and with it every reply of the process that no thread awaits.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "detail/core.hpp"

namespace procactor {

template <class T>
class Future;

namespace detail {
struct future_access {
  template <class T>
  static const std::shared_ptr<pending>& state(const Future<T>& future) noexcept {
    return future.state_;
  }
  // The request of a future waited on among others: throws, as a wait on
  // it alone does, when it has none.
  template <class T>
  static pending* request(const Future<T>& future) {
    return &future.state();
  }
};

// What a callable F returns when given a T (nothing, for T = void).
template <class F, class T>
struct continuation_result {
  using type = std::invoke_result_t<F, T>;
};
template <class F>
struct continuation_result<F, void> {
  using type = std::invoke_result_t<F>;
};

// Ends `target` with what `invoke` returns, or with the error it throws.
template <class U, class Invoke>
void fulfil_with(pending& target, Invoke&& invoke) noexcept {
  try {
    if constexpr (std::is_void_v<U>) {
      std::forward<Invoke>(invoke)();
      fulfil(target, errc::ok, {}, reply_type_id<void>);
    } else {
      U value = std::forward<Invoke>(invoke)();
      fulfil(target, errc::ok, thread_encoder().encode(value), reply_type_id<U>);
    }
  } catch (const error& e) {
    fulfil(target, e.code(), std::as_bytes(std::span(e.message())), 0);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    fulfil(target, errc::handler_threw, std::as_bytes(std::span(what)), 0);
  } catch (...) {
    const std::string what = "a continuation threw something that is not a std::exception";
    fulfil(target, errc::handler_threw, std::as_bytes(std::span(what)), 0);
  }
}
}  // namespace detail

template <class T>
class Future {
 public:
  using value_type = T;

  Future() = default;
  explicit Future(std::shared_ptr<detail::pending> state) : state_(std::move(state)) {}

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  // Done: a value, an error, or cancelled. Never blocks.
  [[nodiscard]] bool ready() const { return detail::is_ready(state()); }

  // Wait without consuming the result; true when it is there. A future
  // whose target died, or whose ask's own deadline passed, is done (with
  // that error) as soon as the wait sees it.
  void wait() const { (void)detail::wait_until(state(), detail::clock::time_point::max()); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return detail::wait_until(state(), deadline_after(timeout));
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> when) const {
    return wait_for(when - Clock::now());
  }

  // Blocks until the reply arrives or the ask's own deadline passes. A
  // Future<void> takes any reply; any other checks the reply's type first
  // (errc::type_mismatch names both types).
  T get() const {
    auto bytes = detail::await(state());
    if constexpr (std::is_void_v<T>) {
      (void)bytes;
    } else {
      detail::check_reply_type(state(), detail::reply_type_id<T>, detail::reply_type_name<T>());
      return detail::decode<T>(bytes);
    }
  }
  // As get(), but waits at most `timeout`: throws error(errc::timeout) when
  // the future is not done by then, and it stays valid (as
  // concurrent.futures' result(timeout)); the ask itself is not affected.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) const {
    if (!wait_for(timeout)) throw error(errc::timeout, "the future was not done within get()'s timeout");
    return get();
  }

  // Waits until done; the error it ended with, or null for a value.
  [[nodiscard]] std::exception_ptr exception() const {
    wait();
    return failure();
  }
  // As exception(), but throws error(errc::timeout) when not done in time.
  template <class Rep, class Period>
  [[nodiscard]] std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    if (!wait_for(timeout)) throw error(errc::timeout, "the future was not done within exception()'s timeout");
    return failure();
  }

  // Withdraws a request that has not started: true when it was withdrawn
  // (the future is then done with errc::cancelled). False when it has
  // started or ended: an ask's message is in the actor's mailbox from the
  // moment ask() returns, and a pool task handed to a worker counts as
  // started (Pool, below, says when that happens).
  bool cancel() const { return detail::cancel(state()); }
  [[nodiscard]] bool cancelled() const { return detail::is_ready(state()) && detail::outcome(state()) == errc::cancelled; }

  // Runs fn(*this) once the future is done (at once, here, if it is).
  template <class F>
  void on_done(F&& fn) const {
    (void)state();
    detail::on_done(state_, [self = *this, fn = std::forward<F>(fn)]() mutable { fn(self); });
  }

  // A future of fn(value): fn runs when this one ends with a value; an
  // error passes through to the new future untouched (fn does not run). An
  // exception from fn ends the new future with it (a procactor::error keeps
  // its code; anything else is handler_threw with its what()).
  template <class F>
  auto then(F&& fn) const -> Future<typename detail::continuation_result<std::decay_t<F>, T>::type> {
    using U = typename detail::continuation_result<std::decay_t<F>, T>::type;
    (void)state();
    auto next = detail::make_local_pending();
    detail::on_done(state_, [self = *this, next, fn = std::forward<F>(fn)]() mutable {
      if (detail::outcome(*self.state_) != errc::ok) {
        detail::pass_outcome(*self.state_, *next);  // the error, as it is
        return;
      }
      if constexpr (std::is_void_v<T>) {
        detail::fulfil_with<U>(*next, [&] { return fn(); });
      } else {
        detail::fulfil_with<U>(*next, [&] { return fn(self.get()); });
      }
    });
    return Future<U>(std::move(next));
  }

 private:
  friend struct detail::future_access;

  // A future made by ask() or submit(); a default-constructed (or
  // moved-from) one has none, and using it is the caller's mistake.
  detail::pending& state() const {
    if (state_ == nullptr) {
      throw error(errc::invalid_argument, "this Future has no request: it was default-constructed or moved from");
    }
    return *state_;
  }

  template <class Rep, class Period>
  static detail::clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
    return detail::clock::now() + detail::bounded(timeout);
  }

  std::exception_ptr failure() const {
    try {
      (void)get();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  std::shared_ptr<detail::pending> state_;
};

// ---- waiting on several ------------------------------------------------------

namespace detail {
template <class Range>
std::vector<pending*> states_of(const Range& futures) {
  std::vector<pending*> states;
  for (const auto& future : futures) states.push_back(future_access::request(future));
  return states;
}
}  // namespace detail

// The index of a done future among `futures` (the first, if several are);
// blocks until one is. Throws error(errc::closed) for an empty range.
template <class Range>
std::size_t wait_any(const Range& futures) {
  const auto states = detail::states_of(futures);
  if (states.empty()) throw error(errc::closed, "wait_any of no futures");
  return detail::wait_any(states, detail::clock::time_point::max());
}
// As above; nullopt when none is done within `timeout`.
template <class Range, class Rep, class Period>
std::optional<std::size_t> wait_any(const Range& futures, std::chrono::duration<Rep, Period> timeout) {
  const auto states = detail::states_of(futures);
  const std::size_t i =
      detail::wait_any(states, detail::clock::now() + detail::bounded(timeout));
  return i < states.size() ? std::optional<std::size_t>(i) : std::nullopt;
}

// Blocks until every future is done.
template <class Range>
void wait_all(const Range& futures) {
  for (const auto& future : futures) future.wait();
}
// True when every future is done within `timeout` (a value or an error).
template <class Range, class Rep, class Period>
bool wait_all(const Range& futures, std::chrono::duration<Rep, Period> timeout) {
  const auto deadline = detail::clock::now() + detail::bounded(timeout);
  for (const auto& future : futures) {
    if (!future.wait_until(deadline)) return false;
  }
  return true;
}

// One future of as_completed(): its index in the range, and the future.
template <class T>
struct Completed {
  std::size_t index;
  const Future<T>& future;
};

// The futures of `futures` in the order they end, as concurrent.futures'
// as_completed: `for (auto [i, f] : procactor::as_completed(futures))`.
// With a timeout, the iteration throws error(errc::timeout) when the next
// one is not done within `timeout` of the call. The futures must outlive it.
template <class T>
class CompletedRange {
 public:
  CompletedRange(const std::vector<Future<T>>& futures, detail::clock::time_point deadline)
      : futures_(&futures), deadline_(deadline) {
    for (std::size_t i = 0; i < futures.size(); ++i) left_.push_back(i);
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Completed<T>;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    explicit iterator(CompletedRange* range) : range_(range) { advance(); }
    Completed<T> operator*() const { return {index_, (*range_->futures_)[index_]}; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator& a, const iterator& b) { return a.range_ == b.range_; }

   private:
    void advance() {
      if (range_->left_.empty()) {
        range_ = nullptr;
        return;
      }
      std::vector<detail::pending*> states;
      for (std::size_t i : range_->left_) {
        states.push_back(detail::future_access::request((*range_->futures_)[i]));
      }
      const std::size_t k = detail::wait_any(states, range_->deadline_);
      if (k >= states.size()) throw error(errc::timeout, "as_completed: no further future was done in time");
      index_ = range_->left_[k];
      range_->left_.erase(range_->left_.begin() + static_cast<std::ptrdiff_t>(k));
    }
    CompletedRange* range_ = nullptr;
    std::size_t index_ = 0;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  const std::vector<Future<T>>* futures_;
  detail::clock::time_point deadline_;
  std::vector<std::size_t> left_;
};

template <class T>
CompletedRange<T> as_completed(const std::vector<Future<T>>& futures) {
  return CompletedRange<T>(futures, detail::clock::time_point::max());
}
template <class T, class Rep, class Period>
CompletedRange<T> as_completed(const std::vector<Future<T>>& futures, std::chrono::duration<Rep, Period> timeout) {
  return CompletedRange<T>(futures, detail::clock::now() + detail::bounded(timeout));
}

}  // namespace procactor
