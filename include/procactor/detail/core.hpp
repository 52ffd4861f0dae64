// The type-erased entry points that the public templates call. Everything
// behind them lives in runtime/ and knows nothing of user types.
#pragma once

#include <chrono>
#include <functional>
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
bool wait_until(pending& state, clock::time_point deadline);

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
