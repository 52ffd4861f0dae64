#include "restart_decision.hpp"

#include <algorithm>

namespace procactor::detail {

exit_verdict judge_exit(Restart restart, const exit_facts& facts) noexcept {
  if (facts.killed) return exit_verdict::killed;
  if (!facts.abnormal) {
    // A normal exit of a closed actor is its end whatever its type; a
    // permanent one that returned on its own is started again.
    return facts.closed || restart != Restart::permanent ? exit_verdict::exited : exit_verdict::restart;
  }
  return restart == Restart::temporary ? exit_verdict::failed : exit_verdict::restart;
}

intensity_result admit_restart(const GroupOptions& group, intensity_history history,
                               decision_clock::time_point now) {
  // No limit: nothing is counted, so nothing is kept. A run that restarted
  // for hours with max_restarts = -1 and a long window kept every restart,
  // and copied them all at each one.
  if (group.max_restarts < 0) {
    history.restarts.clear();
    return {true, std::move(history)};
  }
  // bounded(): a window of milliseconds::max() in nanoseconds would overflow.
  const decision_clock::duration within = bounded(group.within);
  while (!history.restarts.empty() && now - history.restarts.front() > within) history.restarts.pop_front();
  // Of the rest, only the newest max_restarts can count with this one.
  const auto limit = static_cast<std::size_t>(group.max_restarts);
  while (history.restarts.size() > limit) history.restarts.pop_front();
  history.restarts.push_back(now);
  return {history.restarts.size() <= limit, std::move(history)};
}

backoff_result next_backoff(const Backoff& policy, backoff_state state, decision_clock::duration uptime,
                            double random01) {
  // bounded(): milliseconds::max() in nanoseconds would overflow, and every
  // delay below is then at most longest_wait.
  const decision_clock::duration initial = bounded(policy.initial);
  const decision_clock::duration cap = std::max(bounded(policy.max), initial);
  // A long stable run earns the quick first restart back.
  if (!state.used || uptime >= bounded(policy.reset_after)) state.next = initial;
  // Jittered or grown, a delay near longest_wait can pass what nanoseconds
  // hold: it is compared with the cap while it is a double.
  const auto at_most_cap = [cap](std::chrono::duration<double, decision_clock::period> wait) {
    return wait >= cap ? cap : std::chrono::duration_cast<decision_clock::duration>(wait);
  };
  decision_clock::duration delay = state.next;
  if (policy.jitter > 0 && delay.count() > 0) {
    const double factor = 1 + policy.jitter * (2 * std::clamp(random01, 0.0, 1.0) - 1);
    delay = at_most_cap(delay * factor);
  }
  delay = std::clamp<decision_clock::duration>(delay, decision_clock::duration::zero(), cap);
  const auto grown = at_most_cap(state.next * policy.multiplier);
  state.next = std::min<decision_clock::duration>(std::max<decision_clock::duration>(grown, std::chrono::milliseconds(1)), cap);
  state.used = true;
  return {delay, state};
}

std::vector<std::size_t> restart_set(Strategy strategy, std::size_t failed, std::size_t count) {
  std::vector<std::size_t> set;
  switch (strategy) {
    case Strategy::one_for_one:
      set.push_back(failed);
      break;
    case Strategy::one_for_all:
      for (std::size_t i = 0; i < count; ++i) set.push_back(i);
      break;
    case Strategy::rest_for_one:
      for (std::size_t i = failed; i < count; ++i) set.push_back(i);
      break;
  }
  return set;
}

restart_action decide(const restart_policy& policy, restart_history history, const exit_event& event) {
  restart_action action;
  action.verdict = judge_exit(policy.restart, event.facts);
  if (action.verdict != exit_verdict::restart) {
    action.history = std::move(history);
    return action;
  }
  auto admitted = admit_restart(policy.group, std::move(history.group), event.at);
  if (!admitted.allowed) {
    // The history as it was: the restart that was refused is not one.
    admitted.history.restarts.pop_back();
    action.history = {std::move(admitted.history), history.backoff};
    action.what = restart_action::kind::give_up;
    action.verdict = exit_verdict::failed;
    action.why = "more than " + std::to_string(policy.group.max_restarts) + " restart" +
                 (policy.group.max_restarts == 1 ? "" : "s") + " within " +
                 format_duration(capped(policy.group.within));
    return action;
  }
  auto backoff = next_backoff(policy.backoff, history.backoff, event.uptime, event.random01);
  action.what = restart_action::kind::restart;
  action.delay = backoff.delay;
  action.members = restart_set(policy.group.strategy, event.position, std::max(event.members, event.position + 1));
  action.history = {std::move(admitted.history), backoff.state};
  return action;
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms == 0) return "0s";
  struct unit {
    long long size;
    const char* name;
  };
  for (const unit u : {unit{3600000, "h"}, unit{60000, "min"}, unit{1000, "s"}}) {
    if (ms % u.size == 0) return std::to_string(ms / u.size) + u.name;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace procactor::detail
