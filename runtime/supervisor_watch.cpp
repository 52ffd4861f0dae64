// The supervisor's watch over what it cannot trust: the slot table in
// shared memory, handlers that never return, stops that do not happen, and
// processes the actors left behind.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "exit_paths.hpp"
#include "supervisor.hpp"

namespace procactor::detail {

// The slot table is shared memory, so anything may overwrite it. What the
// supervisor wrote once is checked against its private copy on every tick,
// and repaired: one stray write must not cut an actor off for good. Each
// repair is logged and counted (status shows the count).
void supervisor::check_slots() {
  struct field {
    const char* name;
    std::size_t offset;
    std::size_t size;
  };
  static constexpr field fields[] = {
      {"mailbox offset", offsetof(slot_entry, mailbox), sizeof(std::uint64_t)},
      {"inbox offset", offsetof(slot_entry, inbox), sizeof(std::uint64_t)},
      {"params offset", offsetof(slot_entry, params), sizeof(std::uint64_t)},
      {"params length", offsetof(slot_entry, params_length), sizeof(std::uint64_t)},
      {"routes offset", offsetof(slot_entry, routes), sizeof(std::uint64_t)},
      {"routes length", offsetof(slot_entry, routes_length), sizeof(std::uint64_t)},
      {"poison limit", offsetof(slot_entry, poison_limit), sizeof(std::uint32_t)},
      {"delivery", offsetof(slot_entry, delivery), sizeof(std::uint32_t)},
      {"when_down", offsetof(slot_entry, when_down), sizeof(std::uint32_t)},
      {"cpu", offsetof(slot_entry, cpu), sizeof(std::int32_t)},
      {"nice", offsetof(slot_entry, nice), sizeof(std::int32_t)},
      {"replica", offsetof(slot_entry, replica), sizeof(std::int32_t)},
      {"memory limit", offsetof(slot_entry, memory_limit), sizeof(std::uint64_t)},
      {"name", offsetof(slot_entry, name), name_length},
      {"type", offsetof(slot_entry, type), name_length},
  };
  const arena& a = process_->shm();
  const std::uint32_t count = child_count_.load();
  for (slot_id s = 0; s < count; ++s) {
    slot_entry& e = a.slot(s);
    auto* shared = reinterpret_cast<std::byte*>(&e);
    std::lock_guard guard(mutex_);  // set_routes changes the truth
    const child& c = children_[s];
    if (std::memcmp(shared + slot_config_begin, c.config.bytes, sizeof c.config.bytes) == 0) continue;
    for (const field& f : fields) {
      const std::byte* trusted = c.config.bytes + (f.offset - slot_config_begin);
      if (std::memcmp(shared + f.offset, trusted, f.size) == 0) continue;
      log_line("supervisor", "slot " + std::to_string(s) + " (" + c.name + "): its " + f.name +
                                 " in shared memory was overwritten; restored");
      a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    }
    std::memcpy(shared + slot_config_begin, c.config.bytes, sizeof c.config.bytes);
  }
  // The pid must be the incarnation's: refs hand it to kill(2).
  for (slot_id s = 1; s < count; ++s) {
    std::lock_guard guard(mutex_);
    const int truth = children_[s].pid;
    if (a.slot(s).pid.load(std::memory_order_acquire) == truth) continue;
    log_line("supervisor", "slot " + std::to_string(s) + " (" + children_[s].name + "): its pid in shared memory was overwritten; restored");
    a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    a.slot(s).pid.store(truth, std::memory_order_release);
  }
  // The state must be one the runtime writes.
  for (slot_id s = 1; s < count; ++s) {
    const std::uint32_t state = a.slot(s).state.load(std::memory_order_acquire);
    if (state <= static_cast<std::uint32_t>(slot_state::killed) && state != 0) continue;
    log_line("supervisor", "slot " + std::to_string(s) + " (" + children_[s].name + "): its state " +
                               std::to_string(state) + " in shared memory is not a state; restored");
    a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard guard(mutex_);
    const child& c = children_[s];
    const slot_state truth = c.pid > 0 || c.remote                    ? slot_state::running
                             : c.restart_due || c.in_group_restart ? slot_state::restarting
                                                                   : slot_state::failed;
    a.slot(s).state.store(static_cast<std::uint32_t>(truth), std::memory_order_release);
  }
}

// A handler still on the same message after stall_timeout is hung: kill the
// process; the restart redelivers the message and the poison guard counts it.
void supervisor::watch_for_stalls() {
  const auto now = steady::now();
  std::lock_guard guard(mutex_);
  for (slot_id s = 1; s < child_count_.load(); ++s) {
    child& c = children_[s];
    if (c.options.stall_timeout.count() <= 0 || c.pid <= 0) continue;
    const slot_entry& e = process_->shm().slot(s);
    const std::uint32_t sender = e.inflight_sender.load(std::memory_order_acquire);
    const std::uint64_t position = e.inflight_position.load();
    const std::uint64_t processed = e.processed.load();
    if (sender == 0 || sender != c.watched_sender || position != c.watched_position ||
        processed != c.watched_processed) {
      c.watched_sender = sender;
      c.watched_position = position;
      c.watched_processed = processed;
      c.watched_since = now;
      continue;
    }
    if (now - c.watched_since >= c.options.stall_timeout) {
      log_line(c.name, "hung: one message for over " + format_duration(c.options.stall_timeout) + "; killing it");
      c.exit_cause = "hung (stall_timeout " + format_duration(c.options.stall_timeout) + ")";
      c.stalled = true;
      ::kill(-c.pid, SIGKILL);
      c.watched_since = now;
    }
  }
}

void supervisor::reap_orphans() {
  std::lock_guard guard(mutex_);
  std::erase_if(dead_groups_, [](int group) {
    int status;
    for (;;) {
      const pid_t pid = ::waitpid(-group, &status, WNOHANG);
      if (pid > 0 || (pid < 0 && errno == EINTR)) continue;
      if (pid == 0) return false;
      forget_dying_group(group);  // ECHILD: nothing of that group is left
      return true;
    }
  });
}

// A stop the supervisor asked for that is not done by its deadline
// escalates: SIGTERM, then term_grace later SIGKILL. A member that a group's
// restart stops while it waits for room in the mailbox of a member that is
// down in the same restart cannot stop gracefully: that member starts
// again only once this one has stopped. It gets its SIGTERM now rather than
// after the whole shutdown_timeout; what it had in hand is delivered again
// to its next incarnation, as after any kill.
void supervisor::enforce_stop_deadlines() {
  const auto now = steady::now();
  std::lock_guard guard(mutex_);
  for (slot_id s = 1; s < child_count_.load(); ++s) {
    child& c = children_[s];
    if (c.pid > 0 && c.stop_deadline && now < *c.stop_deadline && c.stop_stage == 0 &&
        c.stopping == stop_reason::group) {
      if (const std::string held = held_by_a_down_member(s); !held.empty()) {
        log_line(c.name, "is held sending to " + held +
                             ", which starts again only after the restart's members have stopped: SIGTERM now, "
                             "not after the shutdown timeout");
        c.stop_deadline = now;
      }
    }
    if (c.pid <= 0 || !c.stop_deadline || now < *c.stop_deadline || c.stop_stage >= 2) continue;
    const int sig = c.stop_stage == 0 ? SIGTERM : SIGKILL;
    if (options_.log_events || sig == SIGKILL) {
      log_line(c.name, sig == SIGTERM ? "did not stop in time: SIGTERM" : "did not stop after SIGTERM: SIGKILL");
    }
    ::kill(sig == SIGTERM ? c.pid : -c.pid, sig);
    ++c.stop_stage;
    c.stop_deadline = now + term_grace;
  }
}

// The member, down and waiting to start again in a group's restart, for
// room in whose mailbox `sender` waits, directly or through members of the
// restart that wait in turn (relay -> mid -> the crashed one): "mid.0,
// held sending to slow.0". Empty when none.
std::string supervisor::held_by_a_down_member(slot_id sender) const {
  std::vector<bool> seen(child_count_.load());
  const auto held = [&](const auto& self, slot_id from) -> std::string {
    seen[from] = true;
    for (slot_id t = 1; t < seen.size(); ++t) {
      const child& target = children_[t];
      if (seen[t] || target.remote || !target.in_group_restart) continue;
      const mailbox* box = process_->shm().mailbox_at(process_->shm().slot(t).mailbox);
      if (box == nullptr || !waits_for_space(process_->shm(), box, from)) continue;
      if (target.pid <= 0) return target.name;
      if (std::string via = self(self, t); !via.empty()) return target.name + ", held sending to " + via;
    }
    return {};
  };
  return held(held, sender);
}

}  // namespace procactor::detail
