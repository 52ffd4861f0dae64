// Options::logger: the lines the runtime logs in the supervising program go
// to the hook, on a thread of their own, instead of to stderr.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// This process's children named `comm` (ps's name), zombies included, with
// their state letter.
std::vector<std::pair<pid_t, char>> children_named(const std::string& comm) {
  std::vector<std::pair<pid_t, char>> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 >= text.size()) continue;
    const char state = text[close + 2];
    const pid_t parent = std::atoi(text.c_str() + text.find(' ', close + 3) + 1);
    if (parent == ::getpid() && text.substr(open + 1, close - open - 1) == comm) {
      found.emplace_back(std::stoi(name), state);
    }
  }
  return found;
}

bool logged(const std::string& start) {
  const auto lines = logging::lines();
  return std::any_of(lines.begin(), lines.end(), [&](const logging::line& l) { return l.text.starts_with(start); });
}
}  // namespace

// Killed from outside, each stayed a zombie for the rest of the run, and
// with the guardian gone a kill -9 of the program left its shared memory.
TEST_CASE("a fork server or guardian killed from outside is reaped and said and the guardian is replaced" *
          doctest::timeout(60)) {
  // A clone of the fork server (the guardian, a spare) has the server's
  // name until it takes its own: each is looked for until it is the only
  // one of its name.
  std::vector<std::pair<pid_t, char>> found;
  REQUIRE(eventually([&] { return (found = children_named("procactor-guard")).size() == 1; }, 30s));
  const pid_t guardian = found.front().first;
  REQUIRE(::kill(guardian, SIGKILL) == 0);
  CHECK(eventually([&] { return logged("the guardian of the run's shared memory (pid " + std::to_string(guardian) +
                                       ") ended (signal 9 (Killed)): a new one (pid "); }, 30s));
  // The old one reaped (no zombie of it), the new one there.
  CHECK(eventually(
      [&] {
        found = children_named("procactor-guard");
        return found.size() == 1 && found.front().first != guardian && found.front().second != 'Z';
      },
      30s));

  REQUIRE(eventually([&] { return (found = children_named("procactor-fork")).size() == 1; }, 30s));
  const pid_t server = found.front().first;
  REQUIRE(::kill(server, SIGKILL) == 0);
  CHECK(eventually([&] { return logged("the fork server (pid " + std::to_string(server) +
                                       ") ended (signal 9 (Killed)): actors start with exec from now on"); }, 30s));
  CHECK(eventually([&] { return children_named("procactor-fork").empty(); }, 30s));
  // Actors still start (a spare in hand, then an exec each).
  actor_scope scope;
  for (int i = 0; i < 4; ++i) {
    auto crasher = scope.spawn<logging::Crasher>("after-the-server");
    CHECK(eventually([&] { return crasher.pid().has_value(); }, 30s));
  }
}

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
