// The top level giving up: more restarts in the root group than its
// intensity allows ends supervision. Every actor is stopped, last started
// first and gracefully (on_stop runs), Runtime::gave_up() says why, naming
// the actor, and a gave_up event for "root" names it too.
#include <signal.h>

#include <mutex>

#include "support.hpp"
#include "supervision_actors.hpp"

using namespace itest;
using procactor::ActorState;

TEST_CASE("the root group gives up: all actors stopped in reverse start order, a report and an event" *
          doctest::timeout(100)) {
  temp_dir dir;
  actor_scope scope;
  std::mutex mutex;
  std::vector<procactor::ActorEvent> gave_up;
  runtime().on_event([&](const procactor::ActorEvent& event) {
    std::lock_guard guard(mutex);
    if (event.kind == procactor::ActorEvent::Kind::gave_up) gave_up.push_back(event);
  });
  std::vector<procactor::ActorRef> refs;
  for (const char* tag : {"a", "b", "c"}) {
    procactor::SpawnOptions options;  // the root group: not the scope's
    options.params.set("journal", dir.file("journal")).set("tag", std::string(tag));
    refs.push_back(runtime().spawn<supervision::Member>(unique_name(tag), options));
    scope.adopt(refs.back());
  }
  auto pid_of = [](const procactor::ActorRef& ref) { return ref.ask<int>(supervision::Pid{}, 30s).get(); };
  for (const auto& ref : refs) pid_of(ref);
  REQUIRE(::kill(pid_of(refs[0]), SIGKILL) == 0);  // the one restart the root allows
  REQUIRE(eventually([&] { return runtime().info(refs[0]).restarts == 1 && runtime().info(refs[0]).state == ActorState::running; }));
  CHECK_FALSE(runtime().gave_up().has_value());
  REQUIRE(::kill(pid_of(refs[0]), SIGKILL) == 0);  // one too many

  REQUIRE(eventually([&] {
    return std::all_of(refs.begin(), refs.end(), [](const auto& r) { return is_terminal(runtime().info(r).state); });
  }, 60s));
  const auto why = runtime().gave_up();
  REQUIRE(why.has_value());
  CHECK(why->find("group root gave up: more than 1 restart within 1min") != std::string::npos);
  CHECK(why->find(refs[0].name() + " (signal 9") != std::string::npos);
  for (const auto& ref : refs) CHECK(runtime().info(ref).state == ActorState::failed);
  {
    std::lock_guard guard(mutex);
    REQUIRE(gave_up.size() == 1);
    CHECK(gave_up[0].name == "root");
    CHECK(gave_up[0].culprit == refs[0].name());
    CHECK(gave_up[0].detail == *why);
  }
  // c was started last, so it stopped first; both ran on_stop.
  const auto lines = read_lines(dir.file("journal"));
  const auto c_stop = std::find(lines.begin(), lines.end(), "c stop");
  const auto b_stop = std::find(lines.begin(), lines.end(), "b stop");
  REQUIRE(c_stop != lines.end());
  REQUIRE(b_stop != lines.end());
  CHECK(c_stop < b_stop);
  CHECK(std::find(lines.begin(), lines.end(), "a stop") == lines.end());  // a died by SIGKILL
  // Nothing new starts once supervision has ended.
  try {
    (void)runtime().spawn<supervision::Member>(unique_name("late"));
    FAIL("spawn after the root gave up must fail");
  } catch (const procactor::error& e) {
    CHECK(e.code() == procactor::errc::closed);
    CHECK(std::string(e.what()).find("supervision has ended") != std::string::npos);
  }
  runtime().on_event({});
}
