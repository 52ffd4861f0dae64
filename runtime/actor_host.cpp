#include "actor_host.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>
#include <utility>

#include "procactor/runtime.hpp"
#include "registry.hpp"
#include "timer.hpp"
#include "warm_start.hpp"

namespace procactor::detail {
namespace {

actor_host* current_host = nullptr;

// How long one receive waits before the loop looks at `closed` again
// without a wake-up (a close or stop wakes it anyway): an idle actor's
// sleeps are this long (mailbox.cpp, idle_park_slice).
constexpr auto recv_slice = std::chrono::seconds(1);

std::string sender_name(slot_id slot) { return slot == supervisor_slot ? "supervisor" : name_of(slot); }

}  // namespace

actor_host* actor_host::current() noexcept { return current_host; }

actor_host::actor_host(process& p, slot_id self)
    : process_(p),
      entry_(p.shm().slot(self)),
      receiver_(p.shm(), p.shm().mailbox_at(entry_.mailbox),
                [this](std::uint32_t from, const std::string& problem) {
                  entry_.dead_letters.fetch_add(1, std::memory_order_relaxed);
                  log_line(name_, "corrupt record in the lane from " + sender_name(from) + ": " + problem);
                }) {
  name_ = std::string(entry_.name, strnlen(entry_.name, sizeof entry_.name));
  p.consumer = std::this_thread::get_id();
  receiver_.waits_as(self);
  at_most_once_ = entry_.delivery == static_cast<std::uint32_t>(Delivery::at_most_once);
  if (entry_.params_length != 0) {
    auto* bytes = p.shm().at<std::byte>(entry_.params, entry_.params_length);
    if (bytes == nullptr) throw error(errc::decode_failed, "the actor's parameters lie outside the arena");
    params_ = decode<Params>({bytes, static_cast<std::size_t>(entry_.params_length)});
  }
  refresh_routes(true);
}

bool actor_host::refresh_routes(bool first) {
  std::uint32_t epoch = entry_.routes_epoch.load(std::memory_order_acquire);
  for (int tries = 0; (epoch & 1U) != 0 && first && tries < 1000; ++tries) {
    std::this_thread::yield();  // set_routes is writing them; it holds a lock for microseconds
    epoch = entry_.routes_epoch.load(std::memory_order_acquire);
  }
  if (epoch == routes_epoch_ || (epoch & 1U) != 0) return false;  // odd: the old ones a moment longer
  const std::uint64_t offset = std::atomic_ref(entry_.routes).load(std::memory_order_relaxed);
  const std::uint64_t length = std::atomic_ref(entry_.routes_length).load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (entry_.routes_epoch.load(std::memory_order_relaxed) != epoch) return false;  // rewritten meanwhile
  std::vector<route_state> routes;
  try {
    if (length != 0) {
      auto* bytes = process_.shm().at<std::byte>(offset, length);
      if (bytes == nullptr) throw error(errc::decode_failed, "the actor's routes lie outside the arena");
      for (auto& route : decode<std::vector<Route>>({bytes, static_cast<std::size_t>(length)})) {
        routes.push_back({std::move(route), {}, 0, {}});
      }
    }
  } catch (const error& e) {
    if (first) throw;
    // Shared memory said something that is not routes: keep the ones in use.
    process_.shm().header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    log_line(name_, "new routes cannot be read (" + e.message() + "); keeping the old ones");
    routes_epoch_ = epoch;
    return false;
  }
  // Round robin goes on where it was, on a route that is still there.
  for (std::size_t i = 0; i < routes.size() && i < routes_.size(); ++i) routes[i].next = routes_[i].next;
  routes_ = std::move(routes);
  routes_epoch_ = epoch;
  return true;
}

bool actor_host::poisoned(const delivery& d) const noexcept {
  return entry_.crash_sender.load() == d.from->sender + 1 && entry_.crash_position.load() == d.position &&
         entry_.crash_count.load() >= entry_.poison_limit;
}

void actor_host::commit_current() {
  if (!current_) return;
  if (!at_most_once_) receiver_.commit(*current_);
  entry_.inflight_sender.store(0, std::memory_order_release);
  // This process is the counter's only writer: no locked add needed.
  entry_.processed.store(entry_.processed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  current_.reset();
}

void actor_host::stop_timers() {
  if (timers_stopped_) return;
  timers_stopped_ = true;
  process_.timers().stop();
}

std::optional<Message> actor_host::recv(std::optional<steady::duration> timeout) {
  if (process::fork_copy()) process_.end_fork_copy();
  const bool handled = current_.has_value();
  // Also when this returns nullopt for the timeout: the message was handled.
  commit_current();
  // The handler's reply woke its asker from a sleep: that asker's next
  // message comes after a wake-up at least, so park without spinning for
  // it. A spinner here would hold the CPU the woken asker is likeliest to
  // run on. (Not for a plain send that woke a parked actor: a stage of a
  // pipeline that woke the next one still spins for its own input.)
  bool spin = !reply_woke_asker();
  if (publish_warm_ && handled) {
    publish_warm_ = false;
    publish_warm_pages(*process_.shm().header());
  }
  const auto deadline = timeout ? steady::now() + *timeout : steady::time_point::max();
  for (;;) {
    const std::uint32_t closed = receiver_.box()->closed.load(std::memory_order_acquire);
    if (closed == mailbox_stopping) {  // what is queued waits for the next incarnation
      stop_timers();
      return std::nullopt;
    }
    if (!draining_ && (closed == mailbox_closed || closed == mailbox_draining)) {
      // Before the drain: a tick sent before the timers stopped is in a
      // lane by now, and the drain below handles it; none comes after.
      stop_timers();
      draining_ = true;
    }
    steady::duration slice = recv_slice;
    if (timeout) slice = std::clamp<steady::duration>(deadline - steady::now(), steady::duration::zero(), recv_slice);
    auto d = receiver_.next(slice, std::exchange(spin, true));
    if (!d) {
      if (draining_ && receiver_.all_empty()) return std::nullopt;
      // Not while draining: a nullopt with stopping() true must mean drained.
      if (timeout && !draining_ && steady::now() >= deadline) return std::nullopt;
      continue;
    }
    if (poisoned(*d)) {
      const std::uint32_t crashes = entry_.crash_count.load();
      if ((crashes & crash_stalled) != 0) {
        dead_letter(*d, errc::timeout, "a task that ran longer than its stall_timeout; its asker was told");
      } else {
        // Named (a pool task by its function), since the asker sees only
        // this text; how each crash ended is in the log and rt.info().exits.
        dead_letter(*d, errc::poisoned,
                    task_name(d->head.type, d->payload) + " crashed " + name_ + " " + std::to_string(crashes) +
                        " times in a row (how each crash ended: the log, and rt.info(ref).exits)");
      }
      entry_.crash_sender.store(0);
      entry_.crash_count.store(0);
      receiver_.commit(*d);
      continue;
    }
    // Published before the handler runs, so that the supervisor knows which
    // message was in flight if this process dies inside it.
    entry_.inflight_position.store(d->position, std::memory_order_relaxed);
    entry_.inflight_correlation.store(d->head.correlation, std::memory_order_relaxed);
    entry_.inflight_flags.store(d->head.flags, std::memory_order_relaxed);
    entry_.inflight_type.store(d->head.type, std::memory_order_relaxed);
    entry_.inflight_sender.store(d->from->sender + 1, std::memory_order_release);
    if (at_most_once_) {
      if (!d->blob) {  // a blob stays mapped while `d` holds it
        uncommitted_copy_.assign(d->payload.begin(), d->payload.end());
        d->payload = uncommitted_copy_;
      }
      receiver_.commit(*d);
    }
    current_ = std::move(d);
    // Made in place: a move would copy the payload (Message, actor.hpp).
    return std::optional<Message>(std::in_place, current_->head.type, current_->payload, current_->head.sender,
                                  current_->head.correlation, current_->head.flags);
  }
}

errc report_dead_letter(process& p, slot_entry& entry, const std::string& actor, std::uint32_t sender,
                        const message_header& head, std::span<const std::byte> payload, errc code,
                        const std::string& reason, std::uint32_t attempts, std::optional<send_deadline> wait) {
  entry.dead_letters.fetch_add(1, std::memory_order_relaxed);
  if ((head.flags & flag_ask) != 0) p.reply(sender, head.correlation, code, std::as_bytes(std::span(reason)), 0, wait);
  dead_letter_record record{actor,
                            head.type,
                            std::string(to_string(code)) + ": " + reason,
                            sender,
                            std::vector<std::byte>(payload.begin(), payload.end()),
                            attempts};
  encoder local;  // not the thread's: the payload may be what it holds
  auto bytes = local.encode(record);
  return p.write(supervisor_slot, true, {dead_letter_type, 0, flag_system}, bytes,
                 wait.value_or(send_deadline(steady::now() + p.send_timeout)));
}

void actor_host::dead_letter(const delivery& d, errc code, const std::string& reason) {
  // Named as dead_letters() names it: a pool task by its function too.
  const std::string type_name = task_name(d.head.type, d.payload);
  log_line(name_, "dead letter (" + std::string(to_string(code)) +
                      "): " + (type_name.empty() ? "type " + std::to_string(d.head.type) : type_name) + " from " +
                      sender_name(d.head.sender) + ": " + reason);
  const errc sent =
      report_dead_letter(process_, entry_, name_, d.head.sender, {d.head.type, d.head.correlation, d.head.flags},
                         d.payload, code, reason, code == errc::poisoned ? entry_.crash_count.load() : 0U);
  if (sent != errc::ok) log_line(name_, "could not report the dead letter: " + std::string(to_string(sent)));
}

void actor_host::handle(ActorBase& actor, const Message& message) {
  const delivery& d = *current_;
  try {
    if (!actor.dispatch(message)) dead_letter(d, errc::unknown_message, "no handler for this message type");
  } catch (const error& e) {
    if (e.code() == errc::decode_failed) {
      dead_letter(d, errc::decode_failed, e.message());
    } else if (message.expects_reply()) {
      // The code travels as thrown; the text says where, so that a handler's
      // own `timeout` (an ask of its own that timed out) does not read as
      // the asker's.
      const std::string text = "in " + name_ + "'s handler: " + e.message();
      process_.reply(d.head.sender, d.head.correlation, e.code(), std::as_bytes(std::span(text)));
    } else {
      dead_letter(d, errc::handler_threw, e.what());
    }
  } catch (const std::exception& e) {
    handler_threw(d, message, e.what());
  } catch (...) {
    // `throw 42`: C++ lets a handler throw anything; it is still a throw,
    // not a crash.
    handler_threw(d, message, "an exception that is not a std::exception");
  }
}

void actor_host::handler_threw(const delivery& d, const Message& message, const std::string& what) {
  if (message.expects_reply()) {
    process_.reply(d.head.sender, d.head.correlation, errc::handler_threw, std::as_bytes(std::span(what)));
  } else {
    dead_letter(d, errc::handler_threw, what);
  }
}

void actor_host::emit(type_id type, std::span<const std::byte> payload, const std::string_view* key) {
  refresh_routes();
  if (routes_.empty() && !std::exchange(told_no_route_, true)) {
    // Not an error (an actor may be used at the end of one graph and in the
    // middle of another), but not silent either: said once an incarnation.
    const std::string_view type_name = message_name(type);
    log_line(name_, "emit of " + (type_name.empty() ? "type " + std::to_string(type) : std::string(type_name)) +
                        " with no route out: dropped, as every emit will be while it has none (in a graph, a "
                        "[[routes]] entry from its actor gives it one)");
  }
  for (std::size_t i = 0; i < routes_.size(); ++i) emit_on(i, type, payload, key);
}

bool actor_host::gone_for_good(slot_id target) const noexcept {
  const slot_entry* e = process_.entry(target);
  return e == nullptr || is_terminal(static_cast<slot_state>(e->state.load(std::memory_order_acquire)));
}

void actor_host::leave_out(route_state& r, slot_id target) {
  std::erase(r.targets, target);
  if (std::find(r.gone.begin(), r.gone.end(), target) == r.gone.end()) r.gone.push_back(target);
  if (std::find(ended_targets_.begin(), ended_targets_.end(), target) != ended_targets_.end()) return;
  ended_targets_.push_back(target);
  log_line(name_, name_of(target) + " has ended for good: " +
                      (r.targets.empty() ? "what this actor emits on that route becomes dead letters, as no target "
                                           "of it is left"
                                         : "what this actor emits on that route goes to its other targets"));
}

void actor_host::undeliverable(route_state& r, type_id type, std::span<const std::byte> payload) {
  const slot_id target = r.gone[r.next++ % r.gone.size()];
  slot_entry* e = process_.entry(target);
  if (e == nullptr) return;  // a slot that was never one: nothing counts it
  const errc sent =
      report_dead_letter(process_, *e, name_of(target), process_.self(), {type, 0, 0}, payload, errc::no_such_actor,
                         "emitted by " + name_ + " once every target of its route had ended for good", 0);
  if (sent != errc::ok) log_line(name_, "could not report a dead letter: " + std::string(to_string(sent)));
}

// A send that finds its target closed while the routes changed (the target
// was scaled away: set_routes, then close) goes to the route's targets as
// they are now; on a broadcast, the closed target is left out. A target
// that has ended for good (a temporary actor that crashed, one that
// finished, or whose restarts ran out in a group that is not the root) is
// left out of its route: the others take what it would have, and once none
// is left what the route carries becomes dead letters. The sender goes on,
// as an OTP supervisor's other children do when a temporary one dies.
void actor_host::emit_on(std::size_t index, type_id type, std::span<const std::byte> payload,
                         const std::string_view* key) {
  static thread_local std::minstd_rand random(static_cast<unsigned>(::getpid()));
  auto rerouted = [&](const error& e) {
    return (e.code() == errc::closed || e.code() == errc::actor_died) && refresh_routes();
  };
  slot_id tried = no_slot;
  // The target `tried` has ended for good: left out (true), or the error
  // is another's (false).
  auto ended = [&](route_state& r, const error& e) {
    const errc code = e.code();
    if ((code != errc::no_such_actor && code != errc::actor_died && code != errc::closed) || tried == no_slot ||
        !gone_for_good(tried)) {
      return false;
    }
    leave_out(r, tried);
    return true;
  };
  for (;;) {
    if (index >= routes_.size()) return;  // the new routes have fewer
    route_state& r = routes_[index];
    if (r.targets.empty()) {
      if (!r.gone.empty()) {
        undeliverable(r, type, payload);
        return;
      }
      for (const auto& target : r.route.targets) {
        const slot_id slot = find(target);
        if (slot == no_slot) throw error(errc::no_such_actor, "route to unknown actor '" + target + "'");
        const bool known_gone = std::find(ended_targets_.begin(), ended_targets_.end(), slot) != ended_targets_.end();
        (known_gone ? r.gone : r.targets).push_back(slot);
      }
      if (r.targets.empty()) {
        if (!r.gone.empty()) undeliverable(r, type, payload);
        return;
      }
    }
    // A full lane is back-pressure, not an error: the emit waits for room
    // as long as the target lives (one gone for good, or down under
    // fail_fast, ends the wait with actor_died), however far behind it is.
    // With send_timeout here, a consumer more than 30 s behind made its
    // producer throw out of its loop and start again from the beginning.
    auto deliver = [&](slot_id target) {
      tried = target;
      send(target, {type, payload, 0, 0}, longest_wait);
    };
    try {
      switch (r.route.policy) {
        case RoutePolicy::broadcast: {
          const std::vector<slot_id> targets = r.targets;  // a refresh replaces r
          bool taken = false;
          for (slot_id target : targets) {
            try {
              deliver(target);
              taken = true;
            } catch (const error& e) {
              if (rerouted(e)) continue;
              if (!ended(routes_[index], e)) throw;
            }
          }
          // Every target has ended: the message reached none of them.
          if (!taken && index < routes_.size() && routes_[index].targets.empty() && !routes_[index].gone.empty()) {
            undeliverable(routes_[index], type, payload);
          }
          return;
        }
        case RoutePolicy::round_robin:
          deliver(r.targets[r.next++ % r.targets.size()]);
          return;
        case RoutePolicy::random:
          deliver(r.targets[random() % r.targets.size()]);
          return;
        case RoutePolicy::least_loaded:
          deliver(least_loaded(r, payload.size()));
          return;
        case RoutePolicy::key_hash:
          if (key == nullptr) {
            throw error(errc::invalid_argument, "a key_hash route needs emit(message, key) or a message with key()");
          }
          deliver(r.targets[fnv1a64(*key) % r.targets.size()]);
          return;
      }
      return;
    } catch (const error& e) {
      if (!rerouted(e) && !ended(r, e)) throw;
    }
  }
}

// Two records of this size outstanding per target: one in the handler, one
// ready for when it returns, so a free worker never waits for the sender.
slot_id actor_host::least_loaded(route_state& r, std::size_t payload_size) {
  constexpr std::uint64_t credit_records = 2;
  const std::uint64_t credit = credit_records * record_size_for(payload_size);
  sender& out = process_.out();
  std::optional<steady::time_point> give_up;
  for (;;) {
    slot_id best = r.targets.front();
    std::uint64_t best_load = ~std::uint64_t{0};
    const std::size_t n = r.targets.size();
    for (std::size_t i = 0; i < n; ++i) {
      const slot_id target = r.targets[(r.next + i) % n];  // ties go round robin
      const std::uint64_t load = out.outstanding(target);
      if (load < best_load) {
        best = target;
        best_load = load;
      }
    }
    if (best_load < credit) {
      ++r.next;
      return best;
    }
    // Every target has its two: wait for one to finish one. A target that
    // is gone for good never does; after send_timeout the message goes to
    // the least loaded anyway, whose lane takes it or refuses it.
    const auto now = steady::now();
    if (!give_up) give_up = now + process_.send_timeout;
    if (now >= *give_up) return best;
    out.await_progress(r.targets, credit, std::min<steady::duration>(*give_up - now, std::chrono::milliseconds(50)));
  }
}

int actor_host::run(const std::string& type) {
  actor_factory factory = find_actor_type(type);
  if (factory == nullptr) {
    log_line(name_, "unknown actor type '" + type + "'");
    return 3;
  }
  current_host = this;
  std::unique_ptr<ActorBase> actor;
  // Where an exception came from, for the log: a constructor or an
  // on_start that throws fails every incarnation the same way.
  const char* stage = "its constructor";
  try {
    actor.reset(factory());
    stage = "on_start";
    // Only from `starting`: a state the supervisor set meanwhile (a kill, a
    // restart request) is not overwritten.
    auto starting = static_cast<std::uint32_t>(slot_state::starting);
    entry_.state.compare_exchange_strong(starting, static_cast<std::uint32_t>(slot_state::running),
                                         std::memory_order_acq_rel);
    actor->on_start();
    stage = "its loop";
    actor->run();
    // A run() of its own may return without having received the close.
    stop_timers();
    commit_current();
  } catch (const std::exception& e) {
    stop_timers();
    log_line(name_, std::string("the actor threw out of ") + stage + ": " + e.what());
    return 1;
  } catch (...) {
    stop_timers();
    log_line(name_, std::string("the actor threw out of ") + stage + " an exception that is not a std::exception");
    return 1;
  }
  // The loop is over: its mailbox was closed and drained, or run()
  // returned. An on_stop that throws is logged, and the exit stays a normal
  // one: a restart would find the same closed mailbox, run on_stop again
  // and throw again, a loop that only ends when the group gives up.
  try {
    actor->on_stop();
  } catch (const std::exception& e) {
    log_line(name_, std::string("on_stop threw: ") + e.what());
  } catch (...) {
    log_line(name_, "on_stop threw an exception that is not a std::exception");
  }
  return 0;
}

}  // namespace procactor::detail

namespace procactor {

void ActorBase::run() {
  auto* host = detail::actor_host::current();
  while (auto message = recv()) host->handle(*this, *message);
}

std::optional<Message> ActorBase::recv() {
  auto* host = detail::actor_host::current();
  if (host == nullptr) throw error(errc::not_supervisor, "recv() called outside an actor process");
  return host->recv();
}

std::optional<Message> ActorBase::recv_within(detail::clock::duration timeout) {
  auto* host = detail::actor_host::current();
  if (host == nullptr) throw error(errc::not_supervisor, "recv() called outside an actor process");
  return host->recv(timeout);
}

int ActorBase::replica() const {
  auto* host = detail::actor_host::current();
  return host == nullptr ? 0 : host->replica();
}

bool ActorBase::stopping() const {
  auto* host = detail::actor_host::current();
  return host != nullptr && host->stopping();
}

const Params& ActorBase::params() const {
  static const Params none;
  auto* host = detail::actor_host::current();
  return host == nullptr ? none : host->params();
}

void Message::throw_not_a(std::string_view expected) const {
  const std::string_view name = message_name(type_);
  throw error(errc::decode_failed,
              "the message is " +
                  (name.empty() ? "of unknown type id " + std::to_string(type_) : "a " + std::string(name)) +
                  ", not a " + std::string(expected));
}

void Message::send_reply(std::span<const std::byte> bytes, type_id type) const {
  auto* p = detail::process::current();
  if (p == nullptr) return;
  p->reply(sender_, correlation_, errc::ok, bytes, type);
}

std::string_view to_string(RoutePolicy policy) noexcept {
  switch (policy) {
    case RoutePolicy::round_robin: return "round_robin";
    case RoutePolicy::broadcast: return "broadcast";
    case RoutePolicy::key_hash: return "key_hash";
    case RoutePolicy::random: return "random";
    case RoutePolicy::least_loaded: return "least_loaded";
  }
  return "unknown";
}

}  // namespace procactor

namespace procactor::detail {

void emit(type_id type, std::span<const std::byte> payload, const std::string_view* key) {
  auto* host = actor_host::current();
  if (host == nullptr) throw error(errc::not_supervisor, "emit() called outside an actor process");
  host->emit(type, payload, key);
}

}  // namespace procactor::detail
