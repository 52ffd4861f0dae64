// The restart decision, as a pure function: the policy of an actor and of
// its group, their history, and how the actor exited, in; what to do and
// when, out. No processes, no clocks, no randomness of its own: the caller
// passes the time and a random number, and keeps the history it gets back.
// tests/unit/test_restart_decision.cpp covers every strategy, restart type,
// intensity window and backoff sequence.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "procactor/runtime.hpp"

namespace procactor::detail {

using decision_clock = std::chrono::steady_clock;

// How an actor process ended, as far as the decision cares.
struct exit_facts {
  bool abnormal = false;  // a signal, or a non-zero exit code
  bool closed = false;    // it was closed (asked to finish) before it exited
  bool killed = false;    // ActorRef::kill or shutdown: it stays down
};

// Where an exit leaves the actor when no restart follows, or that one does.
enum class exit_verdict { exited, failed, killed, restart };
[[nodiscard]] exit_verdict judge_exit(Restart restart, const exit_facts& facts) noexcept;

// The restarts a group made within its intensity window, oldest first.
struct intensity_history {
  std::deque<decision_clock::time_point> restarts;
};
struct intensity_result {
  bool allowed = true;  // false: one restart too many, the group gives up
  intensity_history history;
};
// Counts one restart of the group at `now`.
[[nodiscard]] intensity_result admit_restart(const GroupOptions& group, intensity_history history,
                                             decision_clock::time_point now);

// An actor's backoff: the base of its next restart's delay.
struct backoff_state {
  decision_clock::duration next{};
  bool used = false;  // false until the first restart: `next` is then `initial`
};
struct backoff_result {
  decision_clock::duration delay{};  // jittered, and never above Backoff::max
  backoff_state state;
};
// `uptime`: how long the incarnation that died ran; one that ran
// reset_after or longer starts the sequence again. `random01` in [0, 1).
[[nodiscard]] backoff_result next_backoff(const Backoff& policy, backoff_state state,
                                          decision_clock::duration uptime, double random01);

// The members a strategy restarts when the one at `failed` (a position in
// start order, among `count`) dies: positions in start order.
[[nodiscard]] std::vector<std::size_t> restart_set(Strategy strategy, std::size_t failed, std::size_t count);

struct restart_policy {
  Restart restart = Restart::transient;
  Backoff backoff;
  GroupOptions group;
};
struct restart_history {
  intensity_history group;  // the group's
  backoff_state backoff;    // the actor's
};
struct exit_event {
  exit_facts facts;
  decision_clock::duration uptime{};
  decision_clock::time_point at{};
  std::size_t position = 0;  // of the actor among its group's members, in start order
  std::size_t members = 1;
  double random01 = 0.5;
};
struct restart_action {
  enum class kind { stay_down, restart, give_up } what = kind::stay_down;
  exit_verdict verdict = exit_verdict::exited;  // for stay_down: exited, failed or killed
  decision_clock::duration delay{};             // for restart
  std::vector<std::size_t> members;             // for restart: positions, in start order
  restart_history history;                      // to keep for the next decision
  std::string why;                              // for give_up: "more than 3 restarts within 10s"
};

// Policy + history + event -> action and delay. The history comes back in
// the action, whatever it is: a caller that keeps a long one moves it in.
[[nodiscard]] restart_action decide(const restart_policy& policy, restart_history history, const exit_event& event);

// An option's wait at most longest_wait (about 100 years), still in
// milliseconds: what the runtime keeps of a field that it turns into the
// clock's nanoseconds, or adds to now(), later. milliseconds::max() ("for
// ever") would overflow there and come out negative: a wait that ends at once.
[[nodiscard]] constexpr std::chrono::milliseconds capped(std::chrono::milliseconds wait) {
  constexpr auto longest = std::chrono::duration_cast<std::chrono::milliseconds>(longest_wait);
  return wait > longest ? longest : wait;
}

// "250ms", "10s", "2min", "1h": a duration as a person writes it, in the
// largest unit that divides it.
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration);

}  // namespace procactor::detail
