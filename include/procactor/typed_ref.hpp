// procactor::TypedRef<A> — an ActorRef that knows which messages A handles.
//
// Runtime::spawn<A> returns one for an Actor<A, Handled...>:
//
//   auto calc = rt.spawn<Calc>("calc");      // TypedRef<Calc>
//   calc.send(Reset{});                      // compiles: Calc handles Reset
//   calc.send(Text{"hi"});                   // does not: Calc has no on(const Text&)
//   int total = calc.ask(Add{2}, 1s).get();  // the reply type is on(const Add&)'s
//
// A mistake that the untyped ActorRef finds at run time (a message the actor
// drops as unknown, an ask<R> answered with errc::type_mismatch) is a
// compile error here. It adds no data to ActorRef, from which it derives:
// it converts to an ActorRef wherever one is expected and travels inside
// messages as one. An actor with its own run() loop (over ActorBase, or an
// Actor<A> that lists no message) gets a plain ActorRef from spawn, as does
// an actor found by name; from() makes a typed ref of the latter, checked at
// run time.
#pragma once

#include <chrono>
#include <concepts>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "actor.hpp"
#include "actor_ref.hpp"
#include "error.hpp"
#include "future.hpp"
#include "message.hpp"

namespace procactor {

// An actor whose messages are known at compile time: an Actor<A, M...>
// with at least one M. An Actor<A> that lists none drives its own run()
// loop over recv() and takes whatever comes: it gets a plain ActorRef.
template <class A>
concept typed_actor = std::derived_from<A, ActorBase> && requires {
  typename A::handled_messages;
  typename A::handler_type;
} && (std::tuple_size_v<typename A::handled_messages> > 0);

namespace detail {

template <class M, class List>
inline constexpr bool listed_in = false;
template <class M, class... Listed>
inline constexpr bool listed_in<M, std::tuple<Listed...>> = (std::is_same_v<M, Listed> || ...);

// The reply of H's handler for M, called as Actor<>::try_handle calls it
// and sent as Message::reply sends it (without const or reference).
template <class H, class M>
struct handler_reply {};
template <class H, class M>
  requires requires(H& handler, M message) { handler.on(std::move(message)); }
struct handler_reply<H, M> {
  using type = std::remove_cvref_t<decltype(std::declval<H&>().on(std::declval<M>()))>;
};

// The default of TypedRef::ask's R: take the handler's reply type.
struct deduced_reply;
// Whether ask<Asked> may stand for a handler that returns Returned; named so
// that the compiler's note on a failed check shows both types.
template <class Asked, class Returned>
inline constexpr bool asked_type_matches =
    std::is_same_v<Asked, deduced_reply> || std::is_same_v<Asked, Returned>;

}  // namespace detail

template <class A>
class TypedRef : public ActorRef {
 public:
  // True when A has a handler for M (M is one of its Actor<A, ...> list).
  template <class M>
  static constexpr bool handles = detail::listed_in<std::remove_cvref_t<M>, typename A::handled_messages>;
  // What an ask of M gets back: the return type of A's on(M), void included.
  template <class M>
  using reply_t = typename std::conditional_t<handles<M>, detail::handler_reply<typename A::handler_type, M>,
                                              std::type_identity<void>>::type;

  // An invalid ref, as ActorRef() is.
  TypedRef() = default;

  // The typed form of a ref found by name or received in a message, checked
  // at run time against the type the actor was spawned as: throws
  // error(type_mismatch) naming both when it is not an A (exactly A: a
  // class derived from A does not count), error(no_such_actor) when the ref
  // names no actor of this run. An invalid ref gives an invalid TypedRef.
  // A must be registered (PROCACTOR_ACTOR), as spawn<A> needs anyway.
  static TypedRef from(ActorRef ref) {
    if (ref.valid()) {
      const std::string expected = detail::actor_type_name(actor_traits<A>::spelled);
      const std::string actual = detail::type_of(ref.slot());
      if (actual.empty()) throw error(errc::no_such_actor, ref.name() + " is no actor of this run");
      if (actual != expected) {
        throw error(errc::type_mismatch, ref.name() + " is a " + actual + ", not a " + expected);
      }
    }
    return TypedRef(ref);
  }

  // As ActorRef's, for the message types A handles only.
  template <registered_message M>
  [[nodiscard]] errc try_send(const M& message) const {
    static_assert(handles<M>, "TypedRef<A>::try_send: A has no handler for this message type");
    return ActorRef::try_send(message);
  }
  template <registered_message M>
  void send(const M& message) const {
    static_assert(handles<M>, "TypedRef<A>::send: A has no handler for this message type");
    ActorRef::send(message);
  }
  template <registered_message M, class Rep, class Period>
  void send(const M& message, std::chrono::duration<Rep, Period> timeout) const {
    static_assert(handles<M>, "TypedRef<A>::send: A has no handler for this message type");
    ActorRef::send(message, timeout);
  }

  // A Future of what A's handler for M returns (Future<void> for a void
  // handler). ask<R>(...) compiles only when R is exactly that type, so a
  // wrong R is a compile error instead of errc::type_mismatch at run time.
  template <class R = detail::deduced_reply, registered_message M, class Rep, class Period>
  Future<reply_t<M>> ask(const M& message, std::chrono::duration<Rep, Period> timeout) const {
    static_assert(handles<M>, "TypedRef<A>::ask: A has no handler for this message type");
    static_assert(detail::asked_type_matches<R, reply_t<M>>,
                  "TypedRef<A>::ask<R>: R is not the type A's handler for this message returns "
                  "(write ask(message, timeout) to take it from the handler)");
    return ActorRef::ask<reply_t<M>>(message, timeout);
  }

 private:
  friend class Runtime;  // spawn<A> knows the type it made

  explicit TypedRef(ActorRef ref) : ActorRef(ref) {
    static_assert(sizeof(TypedRef) == sizeof(ActorRef), "a TypedRef must travel and convert as an ActorRef");
  }
};

}  // namespace procactor
