// Options::logger: the lines the runtime logs in the supervising program go
// to the hook, on a thread of their own, instead of to stderr.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "support.hpp"

namespace logging {

struct Crash {
  int code = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(code);
  }
};

}  // namespace logging
PROCACTOR_MESSAGE(logging::Crash);

namespace logging {

class Crasher : public procactor::Actor<Crasher, Crash> {
 public:
  void on(const Crash& crash) { std::_Exit(crash.code); }
};

struct line {
  std::string who;
  std::string text;
  std::thread::id thread;
};

std::mutex g_mutex;
std::vector<line> g_lines;

std::vector<line> lines() {
  std::lock_guard guard(g_mutex);
  return g_lines;
}

}  // namespace logging
PROCACTOR_ACTOR(logging::Crasher);

procactor::Options logger_options() {
  procactor::Options options;
  options.log_events = true;
  options.logger = [](std::string_view who, std::string_view text) {
    std::lock_guard guard(logging::g_mutex);
    logging::g_lines.push_back({std::string(who), std::string(text), std::this_thread::get_id()});
  };
  return options;
}

using namespace itest;

namespace {
procactor::Timer g_pending;
}  // namespace

TEST_CASE("the logger gets the supervisor's line about an actor's exit and restart, on a thread of its own" *
          doctest::timeout(60)) {
  actor_scope scope;
  procactor::SpawnOptions options;
  options.delivery = procactor::Delivery::at_most_once;  // the restarted one does not get the Crash again
  auto crasher = scope.spawn<logging::Crasher>("crasher", options);
  crasher.send(logging::Crash{3});
  // A crash (exit code 3) of a transient actor: it is restarted, and with
  // log_events the supervisor logs the exit and the restart.
  const std::string name = crasher.name();
  std::vector<logging::line> lines;
  REQUIRE(eventually(
      [&] {
        lines = logging::lines();
        return std::any_of(lines.begin(), lines.end(), [&](const logging::line& l) { return l.who == name; });
      },
      30s));
  const auto it = std::find_if(lines.begin(), lines.end(), [&](const logging::line& l) { return l.who == name; });
  CHECK(it->text.rfind("exited (exit code 3); restart 1", 0) == 0);
  CHECK(it->text.find("procactor:") == std::string::npos);  // who and text, not the stderr line
  // Every line came on the logger's own thread, not this one (nor, say,
  // the monitor thread while it held the supervisor's lock).
  for (const auto& l : lines) {
    CHECK(l.thread == lines.front().thread);
    CHECK(l.thread != std::this_thread::get_id());
  }
  CHECK(eventually([&] {
    const auto info = runtime().info(crasher);
    return info.restarts == 1 && info.state == procactor::ActorState::running;
  }));
  // Left armed for the end of the run: ~Runtime ends the program's timers
  // (and joins their thread) before it closes the actors; a hang there is
  // caught by the binary's budget, a leftover by test-no-leftovers.
  g_pending = procactor::send_after(crasher, 1h, logging::Crash{3});
  CHECK(g_pending.active());
}
