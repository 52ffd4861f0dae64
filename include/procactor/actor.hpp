// procactor::Actor — the code that runs inside an actor's process.
//
// Typed handlers (the seed's TaggedActor.do_<tag>):
//
//   class Calc : public procactor::Actor<Calc, Add, Reset> {
//    public:
//     int on(const Add& a) { return total_ += a.value; }   // the reply to an ask
//     void on(const Reset&) { total_ = 0; }
//   };
//   PROCACTOR_ACTOR(Calc);
//
// Or a loop of your own (the seed's Actor.run) by overriding run():
//
//   void run() override { while (auto m = recv()) { if (m->is<Text>()) ... } }
//
// A loop that also does something when nothing comes uses recv(timeout):
//
//   for (;;) {
//     if (auto m = recv(100ms)) { ...; continue; }
//     if (stopping()) break;  // closed and drained
//     flush();                // nothing came for 100 ms
//   }
//
// A message is committed (removed from the mailbox) only once its handler has
// returned, so a crash inside a handler redelivers it to the restarted process.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "actor_ref.hpp"
#include "codec.hpp"
#include "message.hpp"
#include "params.hpp"
#include "timer.hpp"

namespace procactor {

// A received message. What recv() returns, and what a handler is given,
// reads its payload where it lies in the mailbox: valid until the next
// recv() or the handler's return, when the sender may write over it. A copy
// or a move of it owns its bytes, so one kept for later (in a std::deque of
// the actor's) stays whole, and can still be answered.
class Message {
 public:
  Message(type_id type, std::span<const std::byte> payload, detail::slot_id sender,
          std::uint64_t correlation, std::uint32_t flags)
      : type_(type), payload_(payload), sender_(sender), correlation_(correlation), flags_(flags) {}
  Message(const Message& other)
      : type_(other.type_),
        owned_(other.payload_.begin(), other.payload_.end()),
        payload_(owned_),
        sender_(other.sender_),
        correlation_(other.correlation_),
        flags_(other.flags_) {}
  // A view is copied (its bytes are the mailbox's); owned bytes move.
  Message(Message&& other) noexcept(false)
      : type_(other.type_),
        owned_(other.owns() ? std::move(other.owned_)
                            : std::vector<std::byte>(other.payload_.begin(), other.payload_.end())),
        payload_(owned_),
        sender_(other.sender_),
        correlation_(other.correlation_),
        flags_(other.flags_) {
    other.payload_ = {};
  }
  Message& operator=(const Message& other) {
    if (this != &other) *this = Message(other);
    return *this;
  }
  Message& operator=(Message&& other) noexcept(false) {
    if (this == &other) return *this;
    owned_ =
        other.owns() ? std::move(other.owned_) : std::vector<std::byte>(other.payload_.begin(), other.payload_.end());
    payload_ = owned_;
    other.payload_ = {};
    type_ = other.type_;
    sender_ = other.sender_;
    correlation_ = other.correlation_;
    flags_ = other.flags_;
    return *this;
  }
  ~Message() = default;

  [[nodiscard]] type_id type() const noexcept { return type_; }
  [[nodiscard]] std::string_view type_name() const noexcept { return message_name(type_); }
  template <registered_message T>
  [[nodiscard]] bool is() const noexcept {
    return type_ == message_traits<T>::id;
  }
  // Decodes the payload; throws error(decode_failed) when it is not a T.
  template <registered_message T>
  [[nodiscard]] T get() const {
    return decode_checked<T>();
  }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return payload_; }
  [[nodiscard]] ActorRef sender() const noexcept { return ActorRef(sender_); }
  [[nodiscard]] bool expects_reply() const noexcept { return (flags_ & detail::flag_ask) != 0; }

  // Answers an ask; a no-op for a plain send. At most one reply counts.
  template <class R>
  void reply(const R& value) const {
    if (expects_reply()) send_reply(detail::thread_encoder().encode(value), detail::reply_type_id<R>);
  }
  void reply() const {
    if (expects_reply()) send_reply({}, detail::reply_type_id<void>);
  }
  // Answers with bytes already encoded as a `type` (what reply() does after
  // encoding; `type` is detail::reply_type_id<R>).
  void reply_encoded(std::span<const std::byte> bytes, type_id type) const {
    if (expects_reply()) send_reply(bytes, type);
  }

 private:
  template <class T>
  T decode_checked() const {
    // The payload alone cannot tell: another type of the same shape (one int
    // and another) decodes as a T all the same. The type id the envelope
    // carries says what it is, as it does for dispatch().
    if (type_ != message_traits<T>::id) throw_not_a(message_traits<T>::name);
    try {
      return detail::decode<T>(payload_);
    } catch (const std::exception& e) {
      throw error(errc::decode_failed,
                  std::string(message_traits<T>::name) + ": " + e.what());
    }
  }
  // Throws error(decode_failed) naming the message's type and `expected`.
  [[noreturn]] void throw_not_a(std::string_view expected) const;
  void send_reply(std::span<const std::byte> bytes, type_id type) const;

  [[nodiscard]] bool owns() const noexcept { return payload_.data() == owned_.data() && !owned_.empty(); }

  type_id type_;
  std::vector<std::byte> owned_;        // a copy's bytes; empty for a view
  std::span<const std::byte> payload_;  // into owned_, or into the mailbox
  detail::slot_id sender_;
  std::uint64_t correlation_;
  std::uint32_t flags_;
};

// The untyped base every actor derives from (through Actor<> below).
class ActorBase {
 public:
  ActorBase() = default;
  ActorBase(const ActorBase&) = delete;
  ActorBase& operator=(const ActorBase&) = delete;
  virtual ~ActorBase() = default;

  virtual void on_start() {}
  virtual void on_stop() {}
  // The default loop hands each message to dispatch(); override to drive your own.
  virtual void run();
  // Returns false when no handler takes this type.
  virtual bool dispatch(const Message& message) = 0;

 protected:
  // Blocks for the next message; nullopt once the actor was closed and its
  // mailbox drained. Receiving commits the message returned before.
  std::optional<Message> recv();
  // As recv(), waiting at most `timeout`: nullopt when nothing came in that
  // time, or (at once) when the actor was closed and its mailbox drained;
  // stopping() tells the two apart (while it drains, recv(timeout) returns
  // what is left, not a timeout). It commits the message returned before
  // even when it returns nullopt: that one was handled.
  //
  // There is no selective receive (a recv of one type that leaves the
  // others queued): a commit moves the head of the sender's lane past the
  // message, freeing what lies before it too, so a message taken out of
  // turn would either commit the skipped ones unhandled or hold the lane
  // behind them. Keep what is to be dealt with later in a queue of your
  // own; to wait for one answer, ask() (README, "Actors").
  template <class Rep, class Period>
  std::optional<Message> recv(std::chrono::duration<Rep, Period> timeout) {
    return recv_within(detail::bounded(timeout));
  }

  // Sends `message` to this actor every `interval`, the first time one
  // interval from now. Fixed rate: ticks are due at start + k * interval
  // whatever the handlers take, and ticks missed while the process was
  // stalled are skipped, never sent in a burst; a tick that finds the
  // mailbox full is skipped too. Stop it with cancel() on the Timer. Every
  // timer of the actor ends when it is asked to stop (closed, or a
  // restart): none sends into its mailbox after that. Timers do not survive
  // a restart: an actor that needs one starts it in on_start. (A one-shot
  // timer: procactor::send_after(self(), delay, message).)
  template <registered_message M, class Rep, class Period>
  Timer start_timer(std::chrono::duration<Rep, Period> interval, const M& message) const {
    if (interval <= interval.zero()) {
      throw error(errc::invalid_argument, "start_timer: the interval must be positive");
    }
    const auto every = detail::bounded(interval);
    return Timer(detail::start_timer(detail::self_slot(), message_traits<M>::id,
                                     detail::thread_encoder().encode(message), every, every));
  }

  // Sends along every outgoing route (see procactor/route.hpp). A key_hash
  // route uses `key`, or the message's key() when it has one.
  template <registered_message M>
  void emit(const M& message) {
    if constexpr (requires { message.key(); }) {
      emit(message, std::string_view(message.key()));
    } else {
      detail::emit(message_traits<M>::id, detail::thread_encoder().encode(message), nullptr);
    }
  }
  template <registered_message M>
  void emit(const M& message, std::string_view key) {
    detail::emit(message_traits<M>::id, detail::thread_encoder().encode(message), &key);
  }

  [[nodiscard]] ActorRef self() const { return ActorRef(detail::self_slot()); }
  [[nodiscard]] const Params& params() const;
  [[nodiscard]] std::string name() const { return detail::name_of(detail::self_slot()); }
  // This instance's index among its replicas (the N of "name.N").
  [[nodiscard]] int replica() const;
  // True once the actor was asked to stop (closed): a run() loop that
  // produces on its own should check it and return.
  [[nodiscard]] bool stopping() const;
  // Every exit of `target` from now on is told to this actor as a Down
  // message (handle `on(const procactor::Down&)`, or recv() it). Monitors
  // belong to the incarnation: a restarted actor monitors again in on_start.
  void monitor(ActorRef target) const { detail::monitor(target.slot(), true); }
  void demonitor(ActorRef target) const { detail::monitor(target.slot(), false); }
  // Another actor of this run by name; an invalid ref when there is none.
  [[nodiscard]] static ActorRef find(std::string_view actor_name) {
    return ActorRef(detail::find(actor_name));
  }

 private:
  // recv(timeout) with the timeout already bounded (detail::bounded): a
  // duration of any unit, hours::max() included, reaches here intact.
  std::optional<Message> recv_within(detail::clock::duration timeout);
};

template <class Derived, registered_message... Handled>
class Actor : public ActorBase {
 public:
  // What TypedRef<Derived> checks sends and deduces replies against: the
  // types dispatch() takes, and the class whose on() handles them.
  using handled_messages = std::tuple<Handled...>;
  using handler_type = Derived;

  bool dispatch(const Message& message) override { return (try_handle<Handled>(message) || ...); }

 private:
  template <class T>
  bool try_handle(const Message& message) {
    if (!message.is<T>()) return false;
    T value = message.get<T>();
    auto& self = static_cast<Derived&>(*this);
    static_assert(requires { self.on(std::move(value)); },
                  "the actor lists a message type it has no on(const T&) handler for");
    if constexpr (std::is_void_v<decltype(self.on(std::move(value)))>) {
      self.on(std::move(value));
      message.reply();
    } else {
      message.reply(self.on(std::move(value)));
    }
    return true;
  }
};

namespace detail {
using actor_factory = ActorBase* (*)();
using parameters_fn = std::vector<ParamSpec> (*)();
bool register_actor_type(std::string_view name, actor_factory factory, parameters_fn parameters = nullptr) noexcept;
template <class T>
constexpr parameters_fn parameters_of() {
  if constexpr (requires { { T::parameters() } -> std::convertible_to<std::vector<ParamSpec>>; }) {
    return &T::parameters;
  } else {
    return nullptr;
  }
}
// "examples::Sum" -> "examples.Sum": the spelling graph files use.
std::string actor_type_name(std::string_view spelled);
}  // namespace detail

template <class T>
struct actor_traits;

namespace detail {
// Whether PROCACTOR_ACTOR(T) is in sight: its actor_traits are defined.
template <class T, class = void>
inline constexpr bool registered_actor = false;
template <class T>
inline constexpr bool registered_actor<T, std::void_t<decltype(actor_traits<T>::spelled)>> = true;
}  // namespace detail

}  // namespace procactor

// Registers an actor type under its name ("ns::Name" is registered as
// "ns.Name"), so that a child process — or the launcher, from a plugin — can
// construct it. At global scope, after the class.
#define PROCACTOR_ACTOR(...)                                                          \
  template <>                                                                         \
  struct procactor::actor_traits<__VA_ARGS__> {                                       \
    static constexpr std::string_view spelled = #__VA_ARGS__;                         \
  };                                                                                  \
  namespace {                                                                         \
  [[maybe_unused]] const bool PROCACTOR_DETAIL_CAT(procactor_actor_, __COUNTER__) =   \
      ::procactor::detail::register_actor_type(                                       \
          #__VA_ARGS__, []() -> ::procactor::ActorBase* { return new __VA_ARGS__(); },  \
          ::procactor::detail::parameters_of<__VA_ARGS__>());                        \
  }                                                                                   \
  static_assert(true, "")
