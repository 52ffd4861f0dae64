// An actor process has ended: what is recorded, who is told, and what
// follows, by the restart decision (restart_decision.hpp) and the strategy
// of its group: nothing, its restart, a restart of several members, or its
// group giving up and escalating to the group above.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <random>

#include "exit_paths.hpp"
#include "futex.hpp"
#include "registry.hpp"
#include "supervisor.hpp"

namespace procactor::detail {
namespace {

constexpr std::size_t kept_exits = 10;

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    std::string text = "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    if (WCOREDUMP(status)) text += ", core dumped";
    return text;
  }
  return "status " + std::to_string(status);
}

double random01() {
  static thread_local std::minstd_rand random(static_cast<unsigned>(::getpid()));
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

}  // namespace

void supervisor::reaped(slot_id slot, int status) {
  child& c = children_[slot];
  slot_entry& e = process_->shm().slot(slot);
  if (c.pidfd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.pidfd, nullptr);
    ::close(c.pidfd);
  }
  // Whatever the actor started dies with it.
  ::kill(-c.pid, SIGKILL);
  // Its last lines are shown before its exit is, and the dead letters it
  // reported are in before anyone who joins it looks.
  close_output(slot);
  process_->drain_inbox_now();
  // A process killed while asleep on its mailbox or inbox left its count
  // behind; nobody consumes either now.
  for (std::uint64_t offset : {e.mailbox, e.inbox}) {
    if (mailbox* box = process_->shm().mailbox_at(offset)) box->parked.store(0, std::memory_order_relaxed);
  }
  const int pid = c.pid;
  const auto now = steady::now();
  // An exit 0 with a message in hand (exit(0) in a handler, or a pool task)
  // left that message unhandled: a crash like any other, which counts
  // towards its poison_limit. Without that, a message that always exits 0
  // restarted a permanent actor (every pool worker) for ever. A loop that
  // ends on its own commits its last message before it exits.
  const bool mid_message = e.inflight_sender.load(std::memory_order_acquire) != 0;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const std::string how =
      clean && mid_message ? describe_exit(status) + " with a message in hand" : describe_exit(status);
  const bool abnormal = !clean || mid_message;
  int signalled = 0;
  bool escalated = false;  // a stop it asked for, past its deadline: SIGTERM, then SIGKILL
  {
    std::lock_guard guard(mutex_);
    escalated = c.stopping != stop_reason::none && c.stop_stage > 0;
    dead_groups_.push_back(pid);
    record_dying_group(pid);
    c.pid = 0;
    c.pidfd = -1;
    c.last_exit = how;
    c.last_exit_at = now;
    c.in_hand_sender = e.inflight_sender.load(std::memory_order_acquire);
    c.in_hand_position = e.inflight_position.load();
    signalled = c.signalled;
    e.pid.store(0, std::memory_order_release);
    record_actor_pid(slot, 0);
  }
  // A death by the signal someone sent through Runtime::signal (`procactor
  // kill`) is the operator's doing, not the message's: it does not count
  // towards the message's poison_limit (three kills during one long message
  // threw that message away).
  // So is a death by the signals with which the supervisor ends a stop it
  // asked for (a group's restart) that took too long, or could not happen:
  // a member held sending to the member that crashed was otherwise killed
  // with the same message in hand at each restart, until it was poisoned.
  const bool by_request =
      WIFSIGNALED(status) && ((signalled != 0 && WTERMSIG(status) == signalled) ||
                              (escalated && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL)));
  if (abnormal) after_crash(slot, c, by_request);
  record_exit(slot, c, status, now);
  e.inflight_sender.store(0);
  // Its monitors belong to the incarnation that made them.
  const std::uint64_t mine = ~(std::uint64_t{1} << (slot % 64));
  for (slot_id s = 1; s < child_count_.load(); ++s) {
    process_->shm().slot(s).monitors[slot / 64].fetch_and(mine, std::memory_order_acq_rel);
  }

  // A stop the supervisor asked for leaves the mailbox open again for the
  // next incarnation; a close by anyone else is the actor's end.
  bool closed = false;
  stop_reason reason;
  {
    std::lock_guard guard(mutex_);
    reason = std::exchange(c.stopping, stop_reason::none);
    if (mailbox* box = process_->shm().mailbox_at(e.mailbox)) {
      std::uint32_t stopping = mailbox_stopping;
      box->closed.compare_exchange_strong(stopping, mailbox_open, std::memory_order_acq_rel);
      // A drain's senders wait on the word for the next incarnation.
      std::uint32_t draining = mailbox_draining;
      if (box->closed.compare_exchange_strong(draining, mailbox_open, std::memory_order_acq_rel)) {
        futex_wake(box->closed, INT_MAX);
      }
      closed = box->closed.load(std::memory_order_acquire) == mailbox_closed;
    }
    c.drain = false;
    c.stop_stage = 0;
    c.stop_deadline.reset();
  }
  decide_after_exit(slot, c, how, abnormal, closed, pid, reason);
}

// Deaths the life watch noticed while the exit still runs (life_watch.hpp):
// each is handled now as reaped, with the status its exit will have. Its
// pidfd stays in the epoll set, tagged, until the zombie is there; then
// reap_orphans reaps it (its process group is a dead group from now on).
void supervisor::reap_early() {
  std::vector<early_death> deaths;
  {
    std::lock_guard guard(mutex_);
    deaths.swap(early_deaths_);
  }
  for (const early_death& death : deaths) {
    child& c = children_[death.slot];
    if (c.pid != death.pid || c.pidfd < 0) continue;  // reaped already
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = exiting_tag | static_cast<std::uint32_t>(c.pidfd);
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.pidfd, &ev);
    exiting_.emplace_back(c.pid, c.pidfd);
    c.pidfd = -1;
    reaped(death.slot, death.status);
  }
}

void supervisor::decide_after_exit(slot_id slot, child& c, const std::string& how, bool abnormal, bool closed,
                                   int pid, stop_reason reason) {
  slot_entry& e = process_->shm().slot(slot);
  const bool killed = e.no_restart.load() != 0;
  const auto now = steady::now();
  std::unique_lock lock(mutex_);
  auto settle = [&](slot_state state) {
    e.state.store(static_cast<std::uint32_t>(state), std::memory_order_release);
    changed_.notify_all();
  };
  // Gone for good: what is queued is taken out first, while the state does
  // not say so yet, so that an asker hears no_such_actor from here before
  // its own check finds the actor gone (actor_died); told() takes what
  // came in after.
  auto ending = [&] {
    c.dead_lettering = true;
    lock.unlock();
    dead_letter_queued(slot, how, true);
    lock.lock();
  };
  auto told = [&](bool restarting) {
    lock.unlock();
    if (!restarting) {
      dead_letter_queued(slot, how, false);
      std::lock_guard guard(mutex_);
      c.dead_lettering = false;
      changed_.notify_all();
    }
    // Whatever this process wrote is in its lanes now, also a write to an
    // actor that had ended for good (it checked before the end and wrote
    // after the last look): taken in here, so that the last exit of a run
    // leaves no message unhandled and uncounted.
    sweep_ended();
    // Told after the state is settled: a listener that looks sees where
    // the actor is going (terminal, or about to restart).
    emit({ActorEvent::Kind::exited, c.name, pid, how, {}});
    send_downs(slot, restarting);
  };

  if (fatal_signal_arrived()) {
    // The program is ending on a signal whose handler kills every actor
    // (exit_paths.hpp): nothing is restarted, and no one is told.
    settle(slot_state::killed);
    return;
  }
  if (gave_up_ || (reason == stop_reason::group && !c.in_group_restart)) {
    // Supervision has ended, or a member that is not restarted was stopped.
    ending();
    settle(killed ? slot_state::killed : gave_up_ || abnormal ? slot_state::failed : slot_state::exited);
    told(false);
    return;
  }
  if (killed) {
    ending();
    settle(slot_state::killed);
    c.in_group_restart = false;
    told(false);
    return;
  }
  if (reason == stop_reason::restart_request) {
    c.restart_due = now;
    e.restarts.fetch_add(1);
    settle(slot_state::restarting);
    told(true);
    if (options_.log_events) log_line(c.name, "restarted on request");
    emit({ActorEvent::Kind::restarting, c.name, 0, "restart on request", {}});
    return;
  }
  if (c.in_group_restart) {
    settle(slot_state::restarting);  // the group operation starts it again
    told(true);
    return;
  }
  // Closed, it drained its lanes and exited. A send that passed the check
  // for a closed mailbox as the close came may have landed after the
  // actor's last look: one more incarnation handles it (the mailbox stays
  // closed, so it drains and exits). A few in a row at most: a run() that
  // returns with messages queued is not started again for ever.
  const mailbox* box = process_->shm().mailbox_at(e.mailbox);
  if (closed && !abnormal && !shut_down_ && c.drain_restarts < 3 && box != nullptr &&
      queued_bytes(process_->shm(), box) > 0) {
    ++c.drain_restarts;
    c.restart_due = now;
    e.restarts.fetch_add(1);
    settle(slot_state::restarting);
    told(true);
    log_line(c.name, "messages came in as it closed; started again to handle them");
    emit({ActorEvent::Kind::restarting, c.name, 0, "to handle messages that came in as it closed", {}});
    return;
  }
  c.drain_restarts = 0;
  // Closed, it failed with nothing queued for it, not even the message it
  // had in hand (that stays queued until handled): a new incarnation would
  // have nothing to do but end, and one that fails as it starts (a source
  // whose input is missing) would fail again and again while the run stops.
  if (closed && abnormal && box != nullptr && queued_bytes(process_->shm(), box) == 0) {
    ending();
    settle(slot_state::failed);
    told(false);
    if (options_.log_events)
      log_line(c.name, "exited (" + how + ") after its close, with nothing queued: not restarted");
    return;
  }

  group_node& g = groups_[c.group];
  restart_policy policy{c.options.restart, c.options.backoff, g.options};
  // While the runtime shuts down, a crash restarts the actor alone.
  if (shut_down_) policy.group.strategy = Strategy::one_for_one;
  const exit_event event{{abnormal, closed, false}, now - c.started, now, position_in_group({false, slot}),
                         g.members.size(), random01()};
  restart_action action = decide(policy, {std::move(g.history), c.backoff}, event);
  g.history = std::move(action.history.group);
  switch (action.what) {
    case restart_action::kind::stay_down:
      ending();
      settle(action.verdict == exit_verdict::exited ? slot_state::exited
             : action.verdict == exit_verdict::killed ? slot_state::killed
                                                     : slot_state::failed);
      told(false);
      if (options_.log_events && abnormal) log_line(c.name, "exited (" + how + "), not restarted");
      return;
    case restart_action::kind::restart: {
      c.backoff = action.history.backoff;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(action.delay);
      if (action.members.size() == 1) {
        // Closed (a stop, the end of its input, a shutdown): what is queued
        // for it is handled now, not after the backoff (start_due does the
        // same for a close that comes during the wait).
        c.restart_due = closed ? now : now + action.delay;
        e.restarts.fetch_add(1);
        settle(slot_state::restarting);
        const std::string text = "restart " + std::to_string(e.restarts.load()) +
                                 (closed ? " now, to handle what is queued for it (it is closed)"
                                         : " in " + std::to_string(ms.count()) + " ms");
        told(true);
        if (options_.log_events) log_line(c.name, "exited (" + how + "); " + text);
        emit({ActorEvent::Kind::restarting, c.name, 0, text, {}});
        return;
      }
      settle(slot_state::restarting);
      const std::string why = c.name + " exited (" + how + ")";
      // The actors it starts again: those that finished, and temporary ones,
      // are stopped and stay so.
      const std::size_t starting = begin_group_restart(c.group, action.members, action.delay, why);
      const std::string text = "group " + g.name + " (" + std::string(to_string(g.options.strategy)) + ") restarts " +
                               std::to_string(starting) + (starting == 1 ? " actor" : " actors") + " in " +
                               std::to_string(ms.count()) + " ms";
      told(true);
      if (options_.log_events) log_line(c.name, "exited (" + how + "); " + text);
      emit({ActorEvent::Kind::restarting, c.name, 0, text, {}});
      return;
    }
    case restart_action::kind::give_up: {
      const std::string why = "group " + g.name + " gave up: " + action.why + "; the last was " + c.name +
                              " (" + how + ")";
      const std::uint32_t group = c.group;
      const std::string group_name = g.name;
      if (group == 0) ending();
      settle(group == 0 ? slot_state::failed : slot_state::restarting);
      begin_give_up(group, c.name, why);
      told(group != 0);
      if (options_.log_events) log_line(c.name, why);
      emit({ActorEvent::Kind::gave_up, group_name, 0, why, c.name});
      return;
    }
  }
}

// Poison accounting, and the asker of the message in flight is told.
void supervisor::after_crash(slot_id slot, child& c, bool by_request) {
  slot_entry& e = process_->shm().slot(slot);
  const std::uint32_t sender = e.inflight_sender.load(std::memory_order_acquire);
  if (sender == 0) return;
  const std::uint64_t position = e.inflight_position.load();
  if (by_request) {
    // Not the message's fault: its count stays where it was.
  } else if (e.crash_sender.load() == sender && e.crash_position.load() == position) {
    e.crash_count.fetch_add(1);
  } else {
    e.crash_sender.store(sender);
    e.crash_position.store(position);
    e.crash_count.store(1);
  }
  const std::uint32_t flags = e.inflight_flags.load();
  // A retried task (a pool's) that hung past stall_timeout is not run
  // again: its asker hears of the timeout now, and the next incarnation
  // drops the message (crash_stalled).
  if ((flags & flag_ask) != 0 && (flags & flag_retry_on_death) != 0 && c.stalled) {
    e.crash_count.store(crash_stalled | e.crash_count.load());
    const std::string why = "the task ran longer than its stall_timeout (" +
                            format_duration(c.options.stall_timeout) + "); " + c.name + " was killed and replaced";
    process_->reply(sender - 1, e.inflight_correlation.load(), errc::timeout, std::as_bytes(std::span(why)));
    return;
  }
  if ((flags & flag_ask) != 0 && (flags & flag_retry_on_death) == 0) {
    const std::string why = c.name + " died (" + c.last_exit + ") while handling the request";
    process_->reply(sender - 1, e.inflight_correlation.load(), errc::actor_died, std::as_bytes(std::span(why)));
  }
}

// What is still queued for an actor that has ended for good will never be
// handled: each message becomes a dead letter, and an ask among them is
// answered now rather than at its timeout, no_such_actor, or actor_died for
// the one in hand (a Pool then gives the task to another worker). Its
// process is gone and none follows, so nobody else consumes the mailbox;
// once its state is terminal (the second, unbounded pass) senders are
// refused too. Done before the exit is told, so that whoever hears of it
// finds the dead letters in.
void supervisor::sweep_ended() {
  std::vector<std::pair<slot_id, std::string>> late;  // and how each ended
  {
    std::lock_guard guard(mutex_);
    for (slot_id s = 1; s < child_count_.load(); ++s) {
      child& c = children_[s];
      if (c.remote || c.dead_lettering || !is_terminal(static_cast<slot_state>(process_->shm().slot(s).state.load()))) {
        continue;
      }
      mailbox* box = process_->shm().mailbox_at(process_->shm().slot(s).mailbox);
      if (box == nullptr || queued_bytes(process_->shm(), box) == 0) continue;
      c.dead_lettering = true;
      late.emplace_back(s, c.last_exit);
    }
  }
  for (const auto& [s, how] : late) {
    dead_letter_queued(s, how, false);
    std::lock_guard guard(mutex_);
    children_[s].dead_lettering = false;
    changed_.notify_all();
  }
}

void supervisor::dead_letter_queued(slot_id slot, const std::string& how, bool bounded) {
  child& c = children_[slot];
  if (c.remote) return;
  slot_entry& e = process_->shm().slot(slot);
  mailbox* box = process_->shm().mailbox_at(e.mailbox);
  if (box == nullptr) return;
  const std::uint64_t queued = queued_bytes(process_->shm(), box);
  if (queued == 0) return;
  std::uint64_t taken = 0;
  receiver queue(process_->shm(), box, [&](std::uint32_t sender, const std::string& problem) {
    log_line(c.name, "a queued record from " + sender_name(sender + 1) + ": " + problem);
  });
  const std::string why = c.name + " ended for good (" + how + ") with the message still queued";
  // The one it had in hand: as many attempts as it crashed on it, at least
  // this one.
  const std::string why_in_hand = c.name + " ended for good (" + how + ") while handling the message";
  const bool crashed_on_it = e.crash_sender.load() == c.in_hand_sender && e.crash_position.load() == c.in_hand_position;
  const std::uint32_t in_hand_attempts =
      crashed_on_it ? std::max<std::uint32_t>(1, e.crash_count.load() & ~crash_stalled) : 1;
  std::size_t count = 0;
  bool had_in_hand = false;
  while (!(bounded && taken >= queued)) {
    std::optional<delivery> d = queue.try_next();
    if (!d) break;
    taken += d->next - d->position;
    if ((d->head.flags & flag_system) == 0) {
      // Kept and counted before the asker is answered: one that hears
      // no_such_actor (or actor_died) finds the dead letter in.
      // The first record from its sender at its position: a later one may
      // reach the same position (a lane grown anew, a sweep of late ones),
      // and was never in hand. Only this slot's dead-lettering writes it.
      const bool in_hand =
          c.in_hand_sender != 0 && d->from->sender + 1 == c.in_hand_sender && d->position == c.in_hand_position;
      if (in_hand) {
        c.in_hand_sender = 0;
        had_in_hand = true;
      }
      DeadLetter letter{c.name,
                        d->head.type,
                        task_name(d->head.type, d->payload),
                        std::string(to_string(in_hand ? errc::actor_died : errc::no_such_actor)) + ": " +
                            (in_hand ? why_in_hand : why),
                        ActorRef(d->head.sender),
                        std::vector<std::byte>(d->payload.begin(), d->payload.end()),
                        in_hand ? in_hand_attempts : 0};
      {
        std::lock_guard guard(mutex_);
        keep_dead_letter(std::move(letter));
      }
      e.dead_letters.fetch_add(1, std::memory_order_relaxed);
      ++count;
      if ((d->head.flags & flag_ask) != 0) {
        // The one in hand is actor_died, as an ask of an actor that died
        // with it in hand is (a Pool's ask hears it only here); one queued
        // never reached the actor.
        const std::string& told = in_hand ? why_in_hand : why;
        process_->reply(d->head.sender, d->head.correlation, in_hand ? errc::actor_died : errc::no_such_actor,
                        std::as_bytes(std::span(told)));
      }
    }
    queue.commit(*d);
  }
  // Said whatever log_events says: messages lost, not an event.
  if (count > 0) {
    const std::size_t still = count - (had_in_hand ? 1 : 0);
    std::string what = had_in_hand ? "the message it was handling" : std::string();
    if (had_in_hand && still > 0) what += " and ";
    if (still > 0) what += std::to_string(still) + (still == 1 ? " message" : " messages") + " still queued";
    log_line(c.name, what + (count == 1 ? " became a dead letter" : " became dead letters") + ": it ended for good (" +
                         how + ")");
  }
}

std::string supervisor::sender_name(std::uint32_t sender_plus_one) const {
  if (sender_plus_one == 0) return {};
  const slot_id sender = sender_plus_one - 1;
  if (sender == supervisor_slot) return "supervisor";
  return sender < child_count_.load() ? children_[sender].name : "slot " + std::to_string(sender);
}

void supervisor::record_exit(slot_id slot, child& c, int status, steady::time_point now) {
  const slot_entry& e = process_->shm().slot(slot);
  ExitRecord record;
  if (WIFEXITED(status)) record.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    record.signal = WTERMSIG(status);
    record.core_dumped = WCOREDUMP(status);
  }
  record.how = c.last_exit;
  record.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started);
  record.at = std::chrono::system_clock::now();
  const std::uint32_t sender = e.inflight_sender.load(std::memory_order_acquire);
  if (sender != 0) {
    const type_id type = e.inflight_type.load();
    const std::string_view name = message_name(type);
    record.inflight_type = name.empty() ? "type " + std::to_string(type) : std::string(name);
    record.inflight_sender = sender_name(sender);
    const bool same = e.crash_sender.load() == sender && e.crash_position.load() == e.inflight_position.load();
    record.attempt = same ? e.crash_count.load() : 1;
  }
  std::lock_guard guard(mutex_);
  const bool abnormal = !(WIFEXITED(status) && WEXITSTATUS(status) == 0) || sender != 0;  // as reaped() judges it
  // Ended by someone, not by itself: a kill() or a stop that had to force
  // it (no restart), or the signal Runtime::signal (procactor kill) sent.
  const bool killed = e.no_restart.load() != 0;
  const bool signalled = WIFSIGNALED(status) && c.signalled != 0 && WTERMSIG(status) == c.signalled;
  record.cause = !c.exit_cause.empty() ? c.exit_cause
                 : killed && abnormal  ? "killed, not to be restarted (kill(), or a stop that had to force it)"
                 : signalled           ? "signal " + std::to_string(c.signalled) + " sent on request (procactor kill)"
                 : abnormal            ? "crashed"
                                       : "finished";
  if (c.stopping == stop_reason::group && c.exit_cause.empty()) record.cause = "stopped by its group";
  record.stderr_tail.assign(c.stderr_tail.begin(), c.stderr_tail.end());
  c.exits.push_back(std::move(record));
  while (c.exits.size() > kept_exits) c.exits.pop_front();
}

void supervisor::flatten(const member& m, std::vector<slot_id>& out) const {
  if (!m.is_group) {
    out.push_back(m.id);
    return;
  }
  for (const member& inner : groups_[m.id].members) flatten(inner, out);
}

std::size_t supervisor::position_in_group(const member& m) const {
  const std::uint32_t parent = m.is_group ? groups_[m.id].parent : children_[m.id].group;
  const auto& members = groups_[parent].members;
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (members[i].is_group == m.is_group && members[i].id == m.id) return i;
  }
  return 0;
}

void supervisor::reset_history(std::uint32_t group) {
  groups_[group].history = {};
  for (const member& m : groups_[group].members) {
    if (m.is_group) reset_history(m.id);
  }
}

// With mutex_ held. The members at `positions` of `group` are stopped (those
// still running, one at a time, last started first) and then started again
// in start order after `delay`. Members that have finished for good stay so.
std::size_t supervisor::begin_group_restart(std::uint32_t group, const std::vector<std::size_t>& positions,
                                            steady::duration delay, const std::string& why) {
  std::vector<slot_id> slots;
  for (std::size_t p : positions) {
    if (p < groups_[group].members.size()) flatten(groups_[group].members[p], slots);
  }
  group_operation op;
  op.group = group;
  op.why = why;
  op.start_at = steady::now() + delay;
  for (slot_id s : slots) {
    child& c = children_[s];
    const slot_entry& e = process_->shm().slot(s);
    const auto state = static_cast<slot_state>(e.state.load());
    if (is_terminal(state) || e.no_restart.load() != 0) continue;
    c.restart_due.reset();
    op.to_stop.push_front(s);
    if (c.options.restart == Restart::temporary && c.pid > 0) continue;  // stopped, never restarted
    c.in_group_restart = true;
    op.to_start.push_back(s);
  }
  const std::size_t starting = op.to_start.size();
  operations_.push_back(std::move(op));
  return starting;
}

// With mutex_ held. Every actor under `group` is stopped, last started
// first; then the group fails as one member of its parent (escalate).
void supervisor::begin_give_up(std::uint32_t group, const std::string& culprit, const std::string& why) {
  std::vector<slot_id> slots;
  flatten({true, group}, slots);
  group_operation op;
  op.give_up = true;
  op.group = group;
  op.culprit = culprit;
  op.why = why;
  for (slot_id s : slots) {
    children_[s].restart_due.reset();
    children_[s].in_group_restart = true;
    op.to_stop.push_front(s);
  }
  if (group == 0) gave_up_ = why;  // no restart from now on
  operations_.push_back(std::move(op));
}

void supervisor::advance_operations() {
  for (;;) {
    std::unique_lock lock(mutex_);
    if (operations_.empty()) return;
    group_operation& op = operations_.front();
    if (op.stopping != 0) {
      if (children_[op.stopping].pid > 0) return;  // its exit wakes the loop
      op.stopping = 0;
    }
    while (!op.to_stop.empty()) {
      const slot_id s = op.to_stop.front();
      op.to_stop.pop_front();
      child& c = children_[s];
      if (c.pid <= 0) continue;
      if (c.exit_cause.empty()) {
        c.exit_cause = op.give_up ? "stopped: group " + groups_[op.group].name + " gave up"
                                  : "stopped: group " + groups_[op.group].name + " restarts";
      }
      request_stop(s, stop_reason::group, false, options_.shutdown_timeout);
      op.stopping = s;
      return;
    }
    if (op.give_up) {
      const std::uint32_t group = op.group;
      const std::string culprit = op.culprit;
      const std::string why = op.why;
      operations_.pop_front();
      lock.unlock();
      escalate(group, culprit, why);
      continue;
    }
    if (steady::now() < op.start_at && !gave_up_) return;
    std::vector<slot_id> to_start = std::move(op.to_start);
    operations_.pop_front();
    for (slot_id s : to_start) children_[s].in_group_restart = false;
    // Supervision ended meanwhile: nothing starts again.
    if (gave_up_) to_start.clear();
    lock.unlock();
    for (slot_id s : to_start) {
      slot_entry& e = process_->shm().slot(s);
      if (e.no_restart.load() != 0) {
        set_state(s, slot_state::killed);
        continue;
      }
      e.restarts.fetch_add(1);
      try {
        start(s);
      } catch (const std::exception& error) {
        log_line(children_[s].name, std::string("restart failed: ") + error.what());
        set_state(s, slot_state::failed);
      }
    }
  }
}

// A group has stopped all its actors after giving up: it fails as a member
// of its parent, which restarts it (fresh: its own history forgotten) by
// the parent's strategy, or gives up in turn. The root ends supervision.
void supervisor::escalate(std::uint32_t group, const std::string& culprit, const std::string& why) {
  if (group == 0) {
    end_supervision(culprit, why);
    return;
  }
  std::string text;
  std::string parent_why;
  std::string parent_name;
  std::string group_name;
  bool restarted;
  bool shutting_down;
  {
    std::lock_guard guard(mutex_);
    const std::uint32_t parent = groups_[group].parent;
    group_node& p = groups_[parent];
    parent_name = p.name;
    group_name = groups_[group].name;
    // During a shutdown the parent restarts nothing, and has not gone over
    // its own limit for that: the group stays down, and no one gives up.
    shutting_down = shut_down_;
    restarted = false;
    if (shutting_down) {
      text = "group " + group_name + " gave up during the shutdown: group " + p.name + " restarts nothing now";
    } else if (auto admitted = admit_restart(p.options, std::move(p.history), steady::now()); admitted.allowed) {
      p.history = std::move(admitted.history);
      restarted = true;
      reset_history(group);
      const auto positions = restart_set(p.options.strategy, position_in_group({true, group}), p.members.size());
      begin_group_restart(parent, positions, steady::duration::zero(), why);
      text = "group " + group_name + " gave up; group " + p.name + " (" + std::string(to_string(p.options.strategy)) +
             ") restarts it";
    } else {
      p.history = std::move(admitted.history);
      parent_why = "group " + p.name + " gave up: more than " + std::to_string(p.options.max_restarts) +
                   " restarts within " + format_duration(p.options.within) + "; the last was group " + group_name +
                   " giving up (" + why + ")";
      begin_give_up(parent, culprit, parent_why);
    }
  }
  // The event names the group that gave up, which the parent restarts.
  if (shutting_down) {
    if (options_.log_events) log_line("supervisor", text);
  } else if (restarted) {
    if (options_.log_events) log_line("supervisor", text);
    emit({ActorEvent::Kind::restarting, group_name, 0, text, culprit});
  } else {
    if (options_.log_events) log_line("supervisor", parent_why);
    emit({ActorEvent::Kind::gave_up, parent_name, 0, parent_why, culprit});
  }
}

void supervisor::end_supervision(const std::string& culprit, const std::string& why) {
  // Down, and now never restarted: the one whose exit made a group give up
  // on the way here, or one waiting out its backoff. What is still queued
  // for it becomes dead letters, as at any end for good (decide_after_exit,
  // start_due): a give-up that came through a nested group lost it without
  // a word. Taken out first, before its state says it is gone, so that
  // whoever sees it gone (the launcher's last line) finds them counted.
  std::vector<std::pair<slot_id, std::string>> down;  // each with how it ended
  {
    std::lock_guard guard(mutex_);
    if (!gave_up_) gave_up_ = why;
    for (slot_id s = 1; s < child_count_.load(); ++s) {
      child& c = children_[s];
      c.restart_due.reset();
      c.in_group_restart = false;
      if (c.remote || c.pid > 0 || is_terminal(static_cast<slot_state>(process_->shm().slot(s).state.load()))) {
        continue;
      }
      c.dead_lettering = true;
      down.emplace_back(s, c.last_exit.empty() ? "supervision ended" : c.last_exit);
    }
    operations_.clear();
  }
  for (const auto& [s, how] : down) dead_letter_queued(s, how, true);
  {
    std::lock_guard guard(mutex_);
    for (const auto& [s, how] : down) {
      process_->shm().slot(s).state.store(static_cast<std::uint32_t>(slot_state::failed), std::memory_order_release);
    }
    changed_.notify_all();
  }
  for (const auto& [s, how] : down) {
    dead_letter_queued(s, how, false);  // what came in meanwhile; senders are refused from now on
    {
      std::lock_guard guard(mutex_);
      children_[s].dead_lettering = false;
      changed_.notify_all();
    }
    send_downs(s, false);
  }
  if (options_.log_events) log_line("supervisor", "supervision has ended (" + culprit + "): " + why);
}

int supervisor::watch_helper(int pid) {
  if (pid <= 0) return -1;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  epoll_event ev{};
  // Once: a helper that is readable but not reaped yet (it cannot be, but
  // it would spin the loop) is left to the monitor_tick poll.
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = helper_tag | static_cast<std::uint32_t>(pidfd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &ev) != 0) {
    ::close(pidfd);
    return -1;
  }
  return pidfd;
}

void supervisor::watch_helpers() {
  // The program is ending on a signal whose handler killed the helpers with
  // the actors (exit_paths.hpp): their ends are its doing, not failures to
  // report or repair, and a new guardian would only be killed in turn.
  const bool ending = fatal_signal_arrived();
  if (const int server = forks_.pid(); server > 0) {
    if (const auto status = forks_.reap_if_dead()) {
      if (server_pidfd_ >= 0) ::close(server_pidfd_);  // which takes it out of the epoll set
      server_pidfd_ = -1;
      if (!ending) {
        log_line("supervisor", "the fork server (pid " + std::to_string(server) + ") ended (" + describe_exit(*status) +
                                   "): actors start with exec from now on");
      }
    }
  }
  int status = 0;
  if (guardian_.pid <= 0 || ::waitpid(guardian_.pid, &status, WNOHANG) != guardian_.pid) return;
  const pid_t old = guardian_.pid;
  forget_helper_pid(old);
  if (guardian_.pipe >= 0) {
    keep_in_fork_copies(guardian_.pipe);
    ::close(guardian_.pipe);
  }
  guardian_ = {};
  if (guardian_pidfd_ >= 0) ::close(guardian_pidfd_);
  guardian_pidfd_ = -1;
  if (ending) return;
  try {
    guardian_ = start_guardian(executable_, process_->shm().name(), forks_);
    guardian_pidfd_ = watch_helper(guardian_.pid);
    log_line("supervisor", "the guardian of the run's shared memory (pid " + std::to_string(old) + ") ended (" +
                               describe_exit(status) + "): a new one (pid " + std::to_string(guardian_.pid) +
                               ") takes its place");
  } catch (const std::exception& e) {
    log_line("supervisor", "the guardian of the run's shared memory (pid " + std::to_string(old) + ") ended (" +
                               describe_exit(status) + ") and none could take its place: " + e.what());
  }
}

}  // namespace procactor::detail
