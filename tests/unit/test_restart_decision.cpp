// The restart decision without processes: every restart type, strategy,
// intensity window and backoff sequence (runtime/restart_decision.hpp).
#include <doctest/doctest.h>

#include <deque>
#include <vector>

#include "restart_decision.hpp"

using namespace std::chrono_literals;
using procactor::Backoff;
using procactor::GroupOptions;
using procactor::Restart;
using procactor::Strategy;
using namespace procactor::detail;

namespace {

const decision_clock::time_point t0{};

exit_facts crash() { return {true, false, false}; }
exit_facts normal() { return {false, false, false}; }
exit_facts closed_normal() { return {false, true, false}; }
exit_facts killed() { return {true, false, true}; }

}  // namespace

TEST_CASE("judge_exit: each restart type against each way out") {
  for (Restart r : {Restart::permanent, Restart::transient, Restart::temporary}) {
    CAPTURE(procactor::to_string(r));
    CHECK(judge_exit(r, killed()) == exit_verdict::killed);
    CHECK(judge_exit(r, closed_normal()) == exit_verdict::exited);
  }
  CHECK(judge_exit(Restart::permanent, crash()) == exit_verdict::restart);
  CHECK(judge_exit(Restart::permanent, normal()) == exit_verdict::restart);
  CHECK(judge_exit(Restart::transient, crash()) == exit_verdict::restart);
  CHECK(judge_exit(Restart::transient, normal()) == exit_verdict::exited);
  CHECK(judge_exit(Restart::temporary, crash()) == exit_verdict::failed);
  CHECK(judge_exit(Restart::temporary, normal()) == exit_verdict::exited);
  // A crash of a closed actor is still a crash: it restarts and drains.
  CHECK(judge_exit(Restart::transient, {true, true, false}) == exit_verdict::restart);
}

TEST_CASE("admit_restart: more than max_restarts within the window gives up; older ones fall out") {
  const GroupOptions group{Strategy::one_for_one, 3, 10s};
  intensity_history h;
  for (int i = 0; i < 3; ++i) {
    auto r = admit_restart(group, h, t0 + i * 1s);
    CHECK(r.allowed);
    h = r.history;
  }
  CHECK_FALSE(admit_restart(group, h, t0 + 3s).allowed);
  // At t0 + 10.5 s the first restart (t0) is out of the 10 s window.
  auto later = admit_restart(group, h, t0 + 10500ms);
  CHECK(later.allowed);
  CHECK(later.history.restarts.size() == 3);
  // Exactly `within` old still counts (the window is closed at its start).
  CHECK_FALSE(admit_restart(group, h, t0 + 10s).allowed);
}

TEST_CASE("admit_restart: no limit, and a limit of zero") {
  intensity_history h;
  const GroupOptions unlimited{Strategy::one_for_one, -1, 1s};
  for (int i = 0; i < 1000; ++i) {
    auto r = admit_restart(unlimited, h, t0 + i * 1ms);
    REQUIRE(r.allowed);
    h = r.history;
  }
  CHECK_FALSE(admit_restart({Strategy::one_for_one, 0, 1s}, {}, t0).allowed);
}

TEST_CASE("admit_restart: keeps nothing without a limit, and at most max_restarts + 1 restarts with one") {
  // A run that restarts for days must not keep (and copy at each restart)
  // every restart of a long window.
  intensity_history unlimited;
  for (int i = 0; i < 10000; ++i) {
    auto r = admit_restart({Strategy::one_for_one, -1, std::chrono::milliseconds::max()}, unlimited, t0 + i * 1ms);
    REQUIRE(r.allowed);
    unlimited = std::move(r.history);
  }
  CHECK(unlimited.restarts.empty());
  // With a limit, the same answers as counting every restart of the window,
  // for gaps that take the count across the limit both ways.
  const GroupOptions group{Strategy::one_for_one, 5, 1s};
  intensity_history h;
  std::deque<decision_clock::time_point> all;  // the window's restarts
  decision_clock::time_point now = t0;
  unsigned seed = 12345;
  for (int i = 0; i < 20000; ++i) {
    seed = seed * 1103515245U + 12345U;
    now += std::chrono::milliseconds((seed >> 16) % 400);
    all.push_back(now);
    while (now - all.front() > 1s) all.pop_front();
    auto r = admit_restart(group, std::move(h), now);
    CHECK(r.allowed == (all.size() <= 5));
    h = std::move(r.history);
    REQUIRE(h.restarts.size() <= 6);
  }
}

TEST_CASE("next_backoff: 0, then 1 ms doubling up to the cap; a long run starts over") {
  Backoff b;
  b.initial = 0ms;
  b.max = 10ms;
  b.multiplier = 2;
  b.jitter = 0;
  b.reset_after = 5s;
  backoff_state s;
  std::vector<long long> delays;
  for (int i = 0; i < 7; ++i) {
    auto r = next_backoff(b, s, 1ms, 0.5);
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(r.delay).count());
    s = r.state;
  }
  CHECK(delays == std::vector<long long>{0, 1, 2, 4, 8, 10, 10});
  auto reset = next_backoff(b, s, 5s, 0.5);
  CHECK(reset.delay == 0ms);
}

TEST_CASE("next_backoff: from a non-zero initial, with multiplier 3") {
  Backoff b;
  b.initial = 100ms;
  b.max = 10s;
  b.multiplier = 3;
  b.jitter = 0;
  backoff_state s;
  std::vector<long long> delays;
  for (int i = 0; i < 6; ++i) {
    auto r = next_backoff(b, s, 1ms, 0.5);
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(r.delay).count());
    s = r.state;
  }
  CHECK(delays == std::vector<long long>{100, 300, 900, 2700, 8100, 10000});
}

TEST_CASE("next_backoff: jitter spreads within +-jitter and never past the cap") {
  Backoff b;
  b.initial = 100ms;
  b.max = 100ms;  // the case that gave 107-109 ms delays before
  b.jitter = 0.1;
  for (double random : {0.0, 0.25, 0.5, 0.75, 0.999}) {
    backoff_state s;
    for (int i = 0; i < 5; ++i) {
      auto r = next_backoff(b, s, 1ms, random);
      CHECK(r.delay <= 100ms);
      CHECK(r.delay >= 90ms);
      s = r.state;
    }
  }
  b.max = 1s;
  auto low = next_backoff(b, {}, 1ms, 0.0);
  auto high = next_backoff(b, {}, 1ms, 0.999);
  CHECK(low.delay == 90ms);
  CHECK(high.delay > 109ms);
  CHECK(high.delay <= 110ms);
}

// milliseconds::max() ("for ever") is taken as about 100 years. Turned into
// the clock's nanoseconds as given it overflowed to -1 ms: a window that held
// no restart, a cap below every delay, a reset after any uptime.
TEST_CASE("admit_restart: a window of milliseconds::max() holds every restart of 100 years") {
  const GroupOptions group{Strategy::one_for_one, 2, std::chrono::milliseconds::max()};
  intensity_history h;
  for (int i = 0; i < 2; ++i) {
    auto r = admit_restart(group, h, t0 + i * 1h);
    CHECK(r.allowed);
    h = r.history;
  }
  CHECK_FALSE(admit_restart(group, h, t0 + std::chrono::hours(24 * 365 * 50)).allowed);
}

TEST_CASE("next_backoff: a max or reset_after of milliseconds::max() is about 100 years") {
  Backoff b;
  b.initial = 100ms;
  b.max = std::chrono::milliseconds::max();
  b.multiplier = 2;
  b.jitter = 0;
  backoff_state s;
  std::vector<long long> delays;
  for (int i = 0; i < 5; ++i) {
    auto r = next_backoff(b, s, 1ms, 0.5);
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(r.delay).count());
    s = r.state;
  }
  CHECK(delays == std::vector<long long>{100, 200, 400, 800, 1600});

  b.max = 10s;
  b.reset_after = std::chrono::milliseconds::max();
  s = {};
  delays.clear();
  for (int i = 0; i < 3; ++i) {
    auto r = next_backoff(b, s, 1h, 0.5);  // a long run, but not 100 years
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(r.delay).count());
    s = r.state;
  }
  CHECK(delays == std::vector<long long>{100, 200, 400});
}

TEST_CASE("next_backoff: delays near 100 years stop at 100 years, jittered or grown") {
  const auto century = std::chrono::hours(24 * 365 * 100);
  Backoff b;
  b.initial = std::chrono::hours(24 * 365 * 50);
  b.max = std::chrono::milliseconds::max();
  b.multiplier = 3;  // 150, then 300 years: more than the clock's nanoseconds hold
  b.jitter = 0.1;
  backoff_state s;
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    auto r = next_backoff(b, s, 1ms, 0.999);
    CHECK(r.delay >= b.initial);
    CHECK(r.delay <= century);
    CHECK(r.state.next <= century);
    CHECK(r.state.next >= b.initial);
    s = r.state;
  }
}

TEST_CASE("restart_set: which members each strategy restarts") {
  using v = std::vector<std::size_t>;
  CHECK(restart_set(Strategy::one_for_one, 2, 5) == v{2});
  CHECK(restart_set(Strategy::one_for_all, 2, 5) == v{0, 1, 2, 3, 4});
  CHECK(restart_set(Strategy::rest_for_one, 2, 5) == v{2, 3, 4});
  CHECK(restart_set(Strategy::rest_for_one, 4, 5) == v{4});
  CHECK(restart_set(Strategy::rest_for_one, 0, 3) == v{0, 1, 2});
}

TEST_CASE("decide: policy + history + event -> action, delay and the history to keep") {
  restart_policy policy;
  policy.restart = Restart::transient;
  policy.backoff.initial = 0ms;
  policy.backoff.jitter = 0;
  policy.group = {Strategy::rest_for_one, 2, 60s};
  restart_history history;
  exit_event event{crash(), 1s, t0, 1, 4, 0.5};

  auto first = decide(policy, history, event);
  CHECK(first.what == restart_action::kind::restart);
  CHECK(first.delay == 0ms);
  CHECK(first.members == std::vector<std::size_t>{1, 2, 3});
  CHECK(first.history.group.restarts.size() == 1);

  event.at = t0 + 1s;
  auto second = decide(policy, first.history, event);
  CHECK(second.what == restart_action::kind::restart);
  CHECK(second.delay == 1ms);

  event.at = t0 + 2s;
  auto third = decide(policy, second.history, event);
  CHECK(third.what == restart_action::kind::give_up);
  CHECK(third.why == "more than 2 restarts within 1min");
  // Giving up keeps the history it was given: nothing was restarted.
  CHECK(third.history.group.restarts == second.history.group.restarts);
  CHECK(third.history.backoff.next == second.history.backoff.next);

  SUBCASE("a normal exit of a transient actor is its end, and counts nothing") {
    event.facts = normal();
    auto done = decide(policy, history, event);
    CHECK(done.what == restart_action::kind::stay_down);
    CHECK(done.verdict == exit_verdict::exited);
    CHECK(done.history.group.restarts.empty());
  }
  SUBCASE("a temporary actor that crashes fails, and its group restarts nothing") {
    policy.restart = Restart::temporary;
    auto done = decide(policy, history, event);
    CHECK(done.what == restart_action::kind::stay_down);
    CHECK(done.verdict == exit_verdict::failed);
  }
  SUBCASE("a killed actor stays killed whatever its type") {
    policy.restart = Restart::permanent;
    event.facts = killed();
    CHECK(decide(policy, history, event).verdict == exit_verdict::killed);
  }
}

TEST_CASE("format_duration: the largest unit that divides") {
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(120s) == "2min");
  CHECK(format_duration(3600s) == "1h");
}

TEST_CASE("capped: an option's wait is at most 100 years, and any shorter one as it is") {
  const auto century = std::chrono::duration_cast<std::chrono::milliseconds>(longest_wait);
  CHECK(capped(std::chrono::milliseconds::max()) == century);
  CHECK(capped(century + 1ms) == century);
  CHECK(capped(century) == century);
  CHECK(capped(30000ms) == 30000ms);
  CHECK(capped(0ms) == 0ms);
  CHECK(capped(-5ms) == -5ms);
}
