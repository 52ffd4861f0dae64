// What the supervisor tells: actor info and exit records, dead letters, and
// monitors with their Down messages.
#include <algorithm>

#include "actor_host.hpp"
#include "registry.hpp"
#include "supervisor.hpp"

namespace procactor::detail {

ActorInfo supervisor::info(slot_id slot) const {
  std::lock_guard guard(mutex_);
  if (slot == 0 || slot >= child_count_.load()) {
    throw error(errc::no_such_actor, slot == no_slot ? "info() of an invalid ActorRef" : "no such actor: slot " + std::to_string(slot));
  }
  ActorInfo info;
  const slot_entry& e = process_->shm().slot(slot);
  const child& c = children_[slot];
  info.ref = ActorRef(slot);
  info.name = c.name;
  info.type = c.type;
  info.pid = e.pid.load();
  info.state = static_cast<ActorState>(static_cast<std::uint32_t>(e.state.load()) - 1);
  info.restarts = e.restarts.load();
  info.processed = e.processed.load();
  info.dead_letters = e.dead_letters.load();
  info.last_exit = c.last_exit;
  info.replica = c.options.replica;
  info.started = c.started;
  info.last_exit_at = c.last_exit_at;
  info.group = groups_[c.group].name;
  info.exits.assign(c.exits.begin(), c.exits.end());
  if (const mailbox* box = process_->shm().mailbox_at(e.mailbox)) {
    for (const inbound_lane& in : inbound_lanes(process_->shm(), box)) {
      info.queued_bytes += in.queued_bytes;
      info.fullest_lane_bytes = std::max(info.fullest_lane_bytes, in.newest_lane_bytes);
      info.inbound.push_back({in.sender == supervisor_slot ? ActorRef{} : ActorRef(in.sender), in.delivered,
                              in.queued_bytes});
    }
  }
  return info;
}

std::vector<ActorInfo> supervisor::actors() const {
  std::size_t count;
  {
    std::lock_guard guard(mutex_);
    count = child_count_.load();
  }
  std::vector<ActorInfo> all;
  for (slot_id s = 1; s < count; ++s) all.push_back(info(s));
  return all;
}

std::vector<DeadLetter> supervisor::dead_letters() const {
  process_->drain_inbox_now();
  std::lock_guard guard(mutex_);
  return {dead_letters_.begin(), dead_letters_.end()};
}

void supervisor::keep_dead_letter(DeadLetter letter) {
  dead_letter_bytes_ += letter.payload.size();
  dead_letters_.push_back(std::move(letter));
  while (!dead_letters_.empty() && (dead_letters_.size() > options_.dead_letters_kept ||
                                    dead_letter_bytes_ > options_.dead_letter_bytes_kept)) {
    dead_letter_bytes_ -= dead_letters_.front().payload.size();
    dead_letters_.pop_front();
  }
}

std::optional<std::string> supervisor::gave_up() const {
  std::lock_guard guard(mutex_);
  return gave_up_;
}

// System messages in the supervisor's inbox: the actors' dead-letter reports.
bool supervisor::take_system_message(const delivery& d) {
  if (d.head.type != dead_letter_type) return false;
  try {
    auto record = decode<dead_letter_record>(d.payload);
    DeadLetter letter{record.actor, record.type, task_name(record.type, record.payload), record.reason,
                      ActorRef(record.sender), std::move(record.payload), record.attempts};
    std::lock_guard guard(mutex_);
    keep_dead_letter(std::move(letter));
  } catch (const std::exception& e) {
    log_line("supervisor", std::string("undecodable dead-letter report: ") + e.what());
  }
  return true;
}

void supervisor::monitor(slot_id target, bool add) {
  if (target == 0 || target >= child_count_.load()) {
    throw error(errc::no_such_actor, "cannot monitor slot " + std::to_string(target) + ": no such actor");
  }
  slot_entry& e = process_->shm().slot(target);
  if (!add) {
    e.monitors[0].fetch_and(~std::uint64_t{1}, std::memory_order_acq_rel);
    return;
  }
  e.monitors[0].fetch_or(1, std::memory_order_acq_rel);
  // Gone for good already: one Down at once, as Erlang's monitor does.
  if (is_terminal(static_cast<slot_state>(e.state.load(std::memory_order_acquire)))) send_downs(target, false);
}

std::optional<Down> supervisor::next_down(steady::duration timeout) {
  std::unique_lock lock(mutex_);
  if (!down_ready_.wait_for(lock, timeout, [&] { return !downs_.empty(); })) return std::nullopt;
  Down down = std::move(downs_.front());
  downs_.pop_front();
  return down;
}

// Tells every monitor of `slot` that it exited. `restarting`: a restart
// follows and the monitors stay; else they are removed.
void supervisor::send_downs(slot_id slot, bool restarting) {
  slot_entry& e = process_->shm().slot(slot);
  std::vector<slot_id> watchers;
  for (std::uint32_t word = 0; word < max_slots / 64; ++word) {
    std::uint64_t bits = restarting ? e.monitors[word].load(std::memory_order_acquire)
                                    : e.monitors[word].exchange(0, std::memory_order_acq_rel);
    while (bits != 0) {
      const auto bit = static_cast<std::uint32_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      watchers.push_back(word * 64 + bit);
    }
  }
  if (watchers.empty()) return;
  std::lock_guard guard(mutex_);
  const child& c = children_[slot];
  Down down;
  down.actor = ActorRef(slot);
  down.name = c.name;
  down.replica = c.options.replica;
  down.restarting = restarting;
  if (!c.exits.empty()) {
    const ExitRecord& last = c.exits.back();
    down.exit_code = last.exit_code;
    down.signal = last.signal;
    down.core_dumped = last.core_dumped;
    down.reason = last.how;
  } else {
    down.reason = "no such process: it never ran";
  }
  if (!restarting && gave_up_) down.reason += "; supervision ended";
  for (slot_id w : watchers) {
    if (w == supervisor_slot) {
      downs_.push_back(down);
      down_ready_.notify_all();
    } else if (w < child_count_.load() && children_[w].pid > 0) {
      outgoing_downs_.emplace_back(w, down);
      courier_wake_.notify_one();
    }
  }
}

// Monitors set on an actor that is gone for good (the watcher set its bit as
// the actor ended) get their Down here, on the monitor tick.
void supervisor::sweep_monitors() {
  for (slot_id s = 1; s < child_count_.load(); ++s) {
    slot_entry& e = process_->shm().slot(s);
    if (!is_terminal(static_cast<slot_state>(e.state.load(std::memory_order_acquire)))) continue;
    bool any = false;
    for (const auto& word : e.monitors) any = any || word.load(std::memory_order_relaxed) != 0;
    if (any) send_downs(s, false);
  }
}

void supervisor::courier_loop() {
  for (;;) {
    std::pair<slot_id, Down> next;
    {
      std::unique_lock lock(mutex_);
      courier_wake_.wait(lock, [&] { return stopping_ || !outgoing_downs_.empty(); });
      if (stopping_) return;
      next = std::move(outgoing_downs_.front());
      outgoing_downs_.pop_front();
    }
    encoder local;
    const auto bytes = local.encode(next.second);
    const errc sent = process_->write(next.first, false, {message_traits<Down>::id, 0, 0}, bytes,
                                      steady::now() + options_.send_timeout);
    if (sent != errc::ok) {
      log_line("supervisor", "could not tell " + children_[next.first].name + " that " + next.second.name +
                                 " exited: " + std::string(to_string(sent)));
    }
  }
}

}  // namespace procactor::detail
