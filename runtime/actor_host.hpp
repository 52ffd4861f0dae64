// The actor side of a child process: runs one actor over its mailbox.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "mailbox.hpp"
#include "procactor/actor.hpp"
#include "procactor/params.hpp"
#include "procactor/route.hpp"
#include "process.hpp"

namespace procactor::detail {

class actor_host {
 public:
  actor_host(process& p, slot_id self);

  // Runs the actor to its end; returns the process's exit code.
  int run(const std::string& type);

  // Blocks for the next message; with a timeout, at most that long.
  std::optional<Message> recv(std::optional<steady::duration> timeout = std::nullopt);
  // Forked from the fork server: after its first message this process
  // publishes the pages its start touched, for the spares (warm_start.hpp).
  void publish_warm_pages_after_first() noexcept { publish_warm_ = true; }
  void handle(ActorBase& actor, const Message& message);
  // A handler's throw: the asker's answer, or a dead letter for a send.
  void handler_threw(const delivery& d, const Message& message, const std::string& what);
  const Params& params() const noexcept { return params_; }
  int replica() const noexcept { return entry_.replica; }
  bool stopping() const noexcept { return receiver_.box()->closed.load(std::memory_order_acquire) != 0; }
  void emit(type_id type, std::span<const std::byte> payload, const std::string_view* key);

  static actor_host* current() noexcept;

 private:
  void commit_current();
  // The actor was asked to stop: its timers end, and what they sent before
  // is in the lanes it is about to drain (or leave to the next incarnation).
  void stop_timers();
  void dead_letter(const delivery& d, errc code, const std::string& reason);
  bool poisoned(const delivery& d) const noexcept;
  struct route_state;
  slot_id least_loaded(route_state& r, std::size_t payload_size);
  // Rereads the routes when Runtime::set_routes has published new ones
  // (slot_entry::routes_epoch); true when they changed. `first`: at start,
  // where routes that cannot be read are an error, not a log line.
  bool refresh_routes(bool first = false);
  void emit_on(std::size_t route, type_id type, std::span<const std::byte> payload, const std::string_view* key);

  process& process_;
  slot_entry& entry_;
  receiver receiver_;
  Params params_;
  struct route_state {
    Route route;
    std::vector<slot_id> targets;  // resolved by name on first use; less those gone
    std::uint64_t next = 0;        // round robin position
    std::vector<slot_id> gone;     // targets found ended for good, left out
  };
  // A target of route `r` found ended for good (not restarted, or
  // finished): left out of the route from now on, said once.
  void leave_out(route_state& r, slot_id target);
  // A message that no target of its route can take any more: a dead letter
  // of one of the targets that ended.
  void undeliverable(route_state& r, type_id type, std::span<const std::byte> payload);
  // True when `target` has ended for good: it will never take a message.
  bool gone_for_good(slot_id target) const noexcept;
  std::vector<route_state> routes_;
  // Targets found ended for good, on any route: left out of routes read
  // again later (a scale rewrites them with every name), said once.
  std::vector<slot_id> ended_targets_;
  bool told_no_route_ = false;      // an emit with no route out was said once
  std::uint32_t routes_epoch_ = 1;  // odd: none read yet
  std::string name_;
  std::optional<delivery> current_;
  // At most once, the record is committed before its handler runs, and its
  // bytes in the lane are the producer's again from then on: the handler
  // reads this copy of an inline payload instead (kept, not reallocated).
  std::vector<std::byte> uncommitted_copy_;
  bool at_most_once_ = false;
  bool draining_ = false;
  bool publish_warm_ = false;
  bool timers_stopped_ = false;
};

// Encodes a dead letter for the supervisor's inbox, and decodes it there.
struct dead_letter_record {
  std::string actor;
  std::uint64_t type = 0;
  std::string reason;
  std::uint32_t sender = 0;
  std::vector<std::byte> payload;
  std::uint32_t attempts = 0;  // crashes it caused (poisoned), else 0
  template <class Archive>
  void serialize(Archive& archive) {
    archive(actor, type, reason, sender, payload, attempts);
  }
};

// A message for `actor` (slot entry `entry`) that will never be handled:
// counted in the entry's dead letters, its asker (an ask) answered `code`
// with `reason`, and reported to the supervisor, which keeps it for
// dead_letters() with the reason `CODE: reason`. `attempts` as in
// dead_letter_record. From an actor's process, or from the supervisor's own
// (a node's gateway, for a message from another node that came after its
// target ended for good). `wait`: how long a full inbox (the asker's, the
// supervisor's) may hold either write; by default as long as any send
// may; the gateway, which drains a remote asker's inbox itself, waits not
// at all. Returns how the report's write went.
errc report_dead_letter(process& p, slot_entry& entry, const std::string& actor, std::uint32_t sender,
                        const message_header& head, std::span<const std::byte> payload, errc code,
                        const std::string& reason, std::uint32_t attempts,
                        std::optional<send_deadline> wait = std::nullopt);

}  // namespace procactor::detail
