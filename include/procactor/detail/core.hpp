// The type-erased entry points that the public templates call. Everything
// behind them lives in runtime/ and knows nothing of user types.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "../message.hpp"

namespace procactor {
class Params;
struct SpawnOptions;
}  // namespace procactor

namespace procactor::detail {

using clock = std::chrono::steady_clock;
using slot_id = std::uint32_t;

// The longest wait the runtime keeps as asked: about 100 years. A longer
// one (hours::max(), "for ever") would overflow the clock's duration, or
// now() plus it, and come out negative: a wait that ends at once.
inline constexpr clock::duration longest_wait = std::chrono::hours(24 * 365 * 100);

// `timeout` as the clock's duration: rounded up, at most longest_wait, and
// zero when it is not positive.
template <class Rep, class Period>
constexpr clock::duration bounded(std::chrono::duration<Rep, Period> timeout) {
  if (timeout <= timeout.zero()) return clock::duration::zero();
  if (std::chrono::duration<double>(timeout) >= std::chrono::duration<double>(longest_wait)) return longest_wait;
  return std::chrono::ceil<clock::duration>(timeout);
}
inline constexpr slot_id no_slot = 0xffffffffU;
inline constexpr slot_id supervisor_slot = 0;

// Envelope flags that user-facing code may set.
enum envelope_flags : std::uint32_t {
  flag_ask = 1U << 0,        // the sender waits for a reply (correlation id set)
  flag_retry_on_death = 1U << 1,  // no actor_died reply: the task is re-run by the restarted actor
};

struct outgoing {
  type_id type = 0;
  std::span<const std::byte> payload;
  std::uint32_t flags = 0;
  std::uint64_t correlation = 0;
};

// The shared state behind a Future. Filled by the reply pump of this process.
struct pending;
// Waits for the reply (or the deadline); returns the payload or throws error.
std::span<const std::byte> await(pending& state);
// After await(): throws error(type_mismatch) when the reply's type is not
// `expected` (reply_type_id<T>), naming both.
void check_reply_type(const pending& state, type_id expected, std::string_view expected_name);
bool is_ready(const pending& state);
// Waits until the state is done or `deadline`; true when done. Ends it
// meanwhile if it can no longer be answered (its ask's deadline, its target
// gone for good).
bool wait_until(pending& state, clock::time_point deadline);
// The index of a done state, waiting until one is or `deadline`;
// states.size() at the deadline.
std::size_t wait_any(std::span<pending* const> states, clock::time_point deadline);
// A state that this process's code ends (then(), a pool's queued task).
std::shared_ptr<pending> make_local_pending();
// Ends a state with this outcome (bytes: the value when ok, else the
// error's text) unless it has ended; false then.
bool fulfil(pending& state, errc code, std::span<const std::byte> bytes, type_id type);
// Ends `to` as `from` ended: its value and type, or its error.
void pass_outcome(const pending& from, pending& to);
// How a done state ended.
errc outcome(const pending& state);
// Runs `callback` once the state is done: now, on this thread, if it is.
void on_done(const std::shared_ptr<pending>& state, std::function<void()> callback);
// Who can withdraw the request before it starts (a pool, for queued tasks).
void set_canceller(pending& state, std::function<bool()> canceller);
bool cancel(pending& state);

errc try_send(slot_id target, const outgoing& message);
// Blocks while the lane is full, for up to `timeout` from the moment it is
// found full (a send that finds room reads no clock).
void send(slot_id target, const outgoing& message, clock::duration timeout);
// Sends `message` as an ask; the reply completes the returned state.
// `on_reply`, when given, runs on the thread that takes the reply in, once.
std::shared_ptr<pending> ask(slot_id target, outgoing message, clock::duration timeout,
                             std::function<void()> on_reply = {});

void close(slot_id target);
bool join(slot_id target, clock::duration timeout);
void kill(slot_id target);
int pid_of(slot_id target);
std::string name_of(slot_id target);
// The registered type the actor was spawned as ("ns.A"); "" for a slot that
// names no actor of this run.
std::string type_of(slot_id target);
slot_id find(std::string_view name);
slot_id self_slot() noexcept;
// Asks the supervisor to add (or remove) a monitor of `target` by this
// process's slot; see ActorBase::monitor.
void monitor(slot_id target, bool add);
clock::duration default_send_timeout() noexcept;

slot_id spawn(std::string_view type, std::string_view name, const SpawnOptions& options);

// ActorBase::emit: the route table lives in the actor's process.
void emit(type_id type, std::span<const std::byte> payload, const std::string_view* key);

}  // namespace procactor::detail
