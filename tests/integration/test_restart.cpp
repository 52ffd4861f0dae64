// Restart and dead letters: the message in flight at a crash is delivered
// again (at-least-once), nothing queued behind it is lost, a message that
// crashes the actor every time is set aside after poison_limit crashes, and
// messages the actor cannot handle go to dead letters without a crash.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "probe.hpp"
#include "support.hpp"

namespace restarting {

// Journal appends "<id>" to its journal file on entry to the handler, then
// aborts while the id has run no more than `crashes` times.
struct Entry {
  int id = 0;
  int crashes = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(id, crashes);
  }
};
struct Ping {
  template <class Archive>
  void serialize(Archive&) {}
};
// Hold writes "begin" to its journal, waits until the file `release` exists,
// then writes "end".
struct Hold {
  std::string release;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(release);
  }
};
// Registered, but no actor here lists it among its handlers.
struct Stranger {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};

}  // namespace restarting
PROCACTOR_MESSAGE(restarting::Entry);
PROCACTOR_MESSAGE(restarting::Ping);
PROCACTOR_MESSAGE(restarting::Stranger);
PROCACTOR_MESSAGE(restarting::Hold);

namespace restarting {

class Journal : public procactor::Actor<Journal, Entry, Ping> {
 public:
  void on(const Entry& e) {
    const std::string journal = params().get<std::string>("journal");
    itest::append_line(journal, std::to_string(e.id));
    int runs = 0;
    for (const auto& line : itest::read_lines(journal)) runs += line == std::to_string(e.id) ? 1 : 0;
    if (runs <= e.crashes) std::abort();
  }
  int on(const Ping&) { return static_cast<int>(::getpid()); }
};

class Holder : public procactor::Actor<Holder, Hold> {
 public:
  void on(const Hold& h) {
    const std::string journal = params().get<std::string>("journal");
    itest::append_line(journal, "begin");
    while (::access(h.release.c_str(), F_OK) != 0) ::usleep(5000);
    itest::append_line(journal, "end");
  }
};

// Throws what C++ allows a handler to throw but is no std::exception, and
// throws from on_stop.
class Odd : public procactor::Actor<Odd, Stranger, Ping> {
 public:
  void on(const Stranger& s) { throw s.value; }
  int on(const Ping&) { return static_cast<int>(::getpid()); }
  void on_stop() override { throw std::runtime_error("cleanup failed"); }
};

}  // namespace restarting
PROCACTOR_ACTOR(restarting::Journal);
PROCACTOR_ACTOR(restarting::Odd);
PROCACTOR_ACTOR(restarting::Holder);

using namespace itest;
using procactor::errc;

namespace {

procactor::SpawnOptions journal_options(const temp_dir& dir) {
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  return options;
}

std::vector<std::string> numbers(std::initializer_list<int> values) {
  std::vector<std::string> text;
  for (int v : values) text.push_back(std::to_string(v));
  return text;
}

}  // namespace

TEST_SUITE("restart") {

TEST_CASE("an actor that crashes on a message is restarted, gets that message again, and loses nothing queued" *
          doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto journal = scope.spawn<restarting::Journal>("journal", journal_options(dir));
  journal.send(restarting::Entry{1, 1});  // crashes once, succeeds when redelivered
  for (int id = 2; id <= 20; ++id) journal.send(restarting::Entry{id, 0});
  const auto first_pid = journal.pid();
  journal.close();
  REQUIRE(journal.join(30s));

  // 1 twice (the crashed run and the redelivery), then 2..20 once, in order.
  CHECK(read_lines(dir.file("journal")) ==
        numbers({1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
  const auto info = runtime().info(journal);
  CHECK(info.restarts == 1);
  CHECK(info.state == procactor::ActorState::exited);
  CHECK(info.dead_letters == 0);
  CHECK(first_pid.has_value());
  CHECK(dead_letters_of(journal.name()).empty());
}

TEST_CASE("a message that crashes the actor every time goes to dead letters as poisoned after 3 crashes" *
          doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto options = journal_options(dir);
  options.poison_limit = 3;
  auto journal = scope.spawn<restarting::Journal>("journal", options);
  journal.send(restarting::Entry{1, 1000});
  journal.send(restarting::Entry{2, 0});
  journal.send(restarting::Entry{3, 0});
  // Same lane as the Entries: answered only after all three were dealt with.
  const int pid = journal.ask<int>(restarting::Ping{}, 30s).get();
  CHECK(pid == journal.pid());

  CHECK(read_lines(dir.file("journal")) == numbers({1, 1, 1, 2, 3}));
  const auto info = runtime().info(journal);
  CHECK(info.restarts == 3);
  CHECK(info.state == procactor::ActorState::running);
  CHECK(info.dead_letters == 1);

  REQUIRE(eventually([&] { return !dead_letters_of(journal.name()).empty(); }));
  const auto letters = dead_letters_of(journal.name());
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].reason.starts_with(std::string(procactor::to_string(errc::poisoned))));
  CHECK(letters[0].type == procactor::message_traits<restarting::Entry>::id);
  CHECK(letters[0].type_name == "restarting::Entry");
  // The payload is kept, so the message can be inspected.
  const auto kept = procactor::detail::decode<restarting::Entry>(letters[0].payload);
  CHECK(kept.id == 1);
}

TEST_CASE("an at-most-once actor does not get the message it crashed on again" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto options = journal_options(dir);
  options.delivery = procactor::Delivery::at_most_once;
  auto journal = scope.spawn<restarting::Journal>("journal", options);
  journal.send(restarting::Entry{1, 1});
  journal.send(restarting::Entry{2, 0});
  const int pid = journal.ask<int>(restarting::Ping{}, 30s).get();
  CHECK(pid == journal.pid());
  CHECK(read_lines(dir.file("journal")) == numbers({1, 2}));
  CHECK(runtime().info(journal).restarts == 1);
}

TEST_CASE("a message type the actor has no handler for goes to dead letters and the actor keeps running" *
          doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  // Untyped: a TypedRef<Journal> would not compile the sends of a Stranger.
  const procactor::ActorRef journal = scope.spawn<restarting::Journal>("journal", journal_options(dir));
  const int pid = journal.ask<int>(restarting::Ping{}, 30s).get();
  journal.send(restarting::Stranger{7});
  // An ask of an unhandled type is answered with the reason.
  try {
    (void)journal.ask<int>(restarting::Stranger{8}, 30s).get();
    FAIL("an ask of an unhandled type returned a value");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::unknown_message);
  }
  CHECK(journal.ask<int>(restarting::Ping{}, 30s).get() == pid);

  REQUIRE(eventually([&] { return dead_letters_of(journal.name()).size() == 2; }));
  const auto letters = dead_letters_of(journal.name());
  for (const auto& letter : letters) {
    CHECK(letter.type_name == "restarting::Stranger");
    CHECK(letter.reason.starts_with(std::string(procactor::to_string(errc::unknown_message))));
  }
  CHECK(procactor::detail::decode<restarting::Stranger>(letters[0].payload).value == 7);
  const auto info = runtime().info(journal);
  CHECK(info.dead_letters == 2);
  CHECK(info.restarts == 0);
}

TEST_CASE("a handler that throws what is no std::exception gives handler_threw and the actor keeps running" *
          doctest::timeout(60)) {
  actor_scope scope;
  const procactor::ActorRef odd = scope.spawn<restarting::Odd>("odd-thrower");
  const int pid = odd.ask<int>(restarting::Ping{}, 30s).get();
  try {
    odd.ask<void>(restarting::Stranger{42}, 30s).get();
    FAIL("the ask of a throwing handler returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK_MESSAGE(e.message().find("an exception that is not a std::exception") != std::string::npos, e.message());
  }
  odd.send(restarting::Stranger{7});
  REQUIRE(eventually([&] { return dead_letters_of(odd.name()).size() == 1; }));
  CHECK(dead_letters_of(odd.name())[0].reason.starts_with(std::string(procactor::to_string(errc::handler_threw))));
  CHECK(odd.ask<int>(restarting::Ping{}, 30s).get() == pid);
  CHECK(runtime().info(odd).restarts == 0);
}

// on_stop runs once the closed mailbox is drained; a restart would find it
// closed again and run on_stop again. One that throws is logged and the
// exit stays the normal one a close asks for: before, each incarnation
// threw, exited 1 and was restarted until the root group gave up and
// stopped every other actor too.
TEST_CASE("an actor whose on_stop throws exits after close and is not restarted" * doctest::timeout(60)) {
  actor_scope scope;
  const procactor::ActorRef odd = scope.spawn<restarting::Odd>("odd-stopper");
  (void)odd.ask<int>(restarting::Ping{}, 30s).get();
  odd.close();
  REQUIRE(odd.join(30s));
  const auto info = runtime().info(odd);
  CHECK(info.state == procactor::ActorState::exited);
  CHECK(info.restarts == 0);
  CHECK(info.last_exit == "exit code 0");
}

TEST_CASE("a payload that fails to decode goes to dead letters and the actor keeps running" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto journal = scope.spawn<restarting::Journal>("journal", journal_options(dir));
  const int pid = journal.ask<int>(restarting::Ping{}, 30s).get();

  // An Entry is two 4-byte ints; three bytes cannot decode as one.
  const std::array<std::byte, 3> truncated{std::byte{1}, std::byte{2}, std::byte{3}};
  const procactor::detail::outgoing bad{procactor::message_traits<restarting::Entry>::id, truncated, 0, 0};
  CHECK(procactor::detail::try_send(journal.slot(), bad) == errc::ok);
  // The same as an ask: the asker is told.
  procactor::Future<void> asked(procactor::detail::ask(journal.slot(), bad, std::chrono::seconds(30)));
  try {
    asked.get();
    FAIL("an undecodable ask returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::decode_failed);
  }
  CHECK(journal.ask<int>(restarting::Ping{}, 30s).get() == pid);
  journal.send(restarting::Entry{5, 0});
  CHECK(journal.ask<int>(restarting::Ping{}, 30s).get() == pid);
  CHECK(read_lines(dir.file("journal")) == numbers({5}));

  REQUIRE(eventually([&] { return dead_letters_of(journal.name()).size() == 2; }));
  for (const auto& letter : dead_letters_of(journal.name())) {
    CHECK(letter.reason.starts_with(std::string(procactor::to_string(errc::decode_failed))));
    CHECK(letter.payload.size() == truncated.size());
  }
  CHECK(runtime().info(journal).restarts == 0);
}

// ActorRef::kill() on an actor that is waiting out its restart backoff
// finds no pid to signal: the actor stays down, and ends at once, not when
// the backoff is over (a launcher's forced stop waited for that end, for
// ever when the backoff was long), and its monitors and the event
// listener hear of it.
TEST_CASE("kill() during a restart backoff stops the actor for good, at once, and says so" *
          doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  std::mutex mutex;
  std::vector<procactor::ActorEvent> events;
  runtime().on_event([&](const procactor::ActorEvent& event) {
    std::lock_guard guard(mutex);
    if (event.name.starts_with("journal-killed")) events.push_back(event);
  });
  struct unhook {
    ~unhook() { runtime().on_event({}); }
  } unhooked;
  auto options = journal_options(dir);
  options.restart = procactor::Restart::permanent;
  options.backoff.initial = std::chrono::minutes(10);
  options.backoff.jitter = 0;
  auto journal = scope.spawn<restarting::Journal>("journal-killed", options);
  runtime().monitor(journal);
  const int pid = journal.ask<int>(restarting::Ping{}, 30s).get();
  ::kill(pid, SIGKILL);
  REQUIRE(eventually([&] { return runtime().info(journal).state == procactor::ActorState::restarting; }));
  journal.send(restarting::Entry{1, 0});  // queued for an incarnation that never comes
  journal.send(restarting::Entry{2, 0});
  journal.kill();
  CHECK(journal.join(60s));  // well before the 10 minutes
  CHECK(runtime().info(journal).state == procactor::ActorState::killed);
  CHECK_FALSE(journal.pid().has_value());
  REQUIRE(eventually([&] {
    std::lock_guard guard(mutex);
    return !events.empty() && events.back().kind == procactor::ActorEvent::Kind::exited &&
           events.back().detail == "killed while waiting to restart";
  }));
  // What was queued for it is counted as lost, not left in its mailbox (the
  // Ping too, when the kill came between its answer and its commit).
  CHECK(eventually([&] {
    const auto letters = dead_letters_of(journal.name());
    return std::count_if(letters.begin(), letters.end(), [](const procactor::DeadLetter& letter) {
             return letter.type_name == "restarting::Entry";
           }) == 2;
  }));
  CHECK(read_lines(dir.file("journal")).empty());
  // Its monitor: a Down for the crash (restarting), then the final one.
  bool final_down = false;
  for (int i = 0; i < 10 && !final_down; ++i) {
    const auto down = runtime().next_down(std::chrono::seconds(30));
    REQUIRE(down.has_value());
    if (down->name == journal.name()) final_down = !down->restarting;
  }
  CHECK(final_down);
}

// Closed while it waits out its backoff (a stop, the end of its input, a
// shutdown), an actor handles what is queued for it now, not after the
// backoff: the message it crashed on comes back until it is poisoned, and
// those behind it are handled.
TEST_CASE("close() during a restart backoff handles the queue at once, then the actor ends" *
          doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  auto options = journal_options(dir);
  options.restart = procactor::Restart::permanent;
  options.backoff.initial = std::chrono::minutes(10);
  options.backoff.jitter = 0;
  auto journal = scope.spawn<restarting::Journal>("journal-closed", options);
  journal.send(restarting::Entry{1, 100});  // crashes every time it is handled
  REQUIRE(eventually([&] { return runtime().info(journal).state == procactor::ActorState::restarting; }));
  journal.send(restarting::Entry{2, 0});
  journal.send(restarting::Entry{3, 0});
  journal.close();
  CHECK(journal.join(60s));  // well before the 10 minutes
  CHECK(runtime().info(journal).state == procactor::ActorState::exited);
  const auto lines = read_lines(dir.file("journal"));
  CHECK(std::count(lines.begin(), lines.end(), "1") == 3);  // poison_limit
  CHECK(std::count(lines.begin(), lines.end(), "2") == 1);
  CHECK(std::count(lines.begin(), lines.end(), "3") == 1);
  REQUIRE(eventually([&] { return dead_letters_of(journal.name()).size() == 1; }));
}

// Runtime::signal (what `procactor kill` uses) is the operator's act, not
// the message's fault: kills during one long message, more of them than
// poison_limit, leave the message to be handled, not thrown away.
TEST_CASE("kills sent with Runtime::signal do not count towards the poison limit of the message in hand" *
          doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  auto holder = scope.spawn<restarting::Holder>("holder", journal_options(dir));
  const std::string release = dir.file("release");
  holder.send(restarting::Hold{release});
  const auto begun = [&] {
    const auto lines = read_lines(dir.file("journal"));
    return static_cast<int>(std::count(lines.begin(), lines.end(), "begin"));
  };
  for (int kill = 1; kill <= 4; ++kill) {  // poison_limit is 3
    CAPTURE(kill);
    REQUIRE(eventually([&] { return begun() == kill; }));
    runtime().signal(holder, SIGKILL);
  }
  REQUIRE(eventually([&] { return begun() == 5; }));
  append_line(release, "go");
  REQUIRE(eventually([&] { return read_lines(dir.file("journal")).back() == "end"; }));
  CHECK(dead_letters_of(holder.name()).empty());
  CHECK(runtime().info(holder).restarts == 4);
}

// A child the fork server has just cloned makes its own process group first
// thing; a kill() that came before found no group to signal and was lost:
// the actor ran on, and join() waited for ever. Spawned and killed at once,
// many times in a row (the spares run out, so most are cloned then): each
// is gone.
TEST_CASE("kill() right after spawn stops the actor for good every time" * doctest::timeout(240)) {
  actor_scope scope;
  temp_dir dir;
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    auto journal = scope.spawn<restarting::Journal>("killed-at-once-" + std::to_string(i), journal_options(dir));
    journal.kill();
    REQUIRE(journal.join(30s));
    CHECK(runtime().info(journal).state == procactor::ActorState::killed);
  }
}

// The fork server's spares wait for the supervisor's next start; killed
// from outside while they wait, they must cost neither that start nor a
// zombie.
TEST_CASE("spares killed while they wait are reaped, and the next actor starts all the same" * doctest::timeout(60)) {
  if (!runtime().options().fork_server || std::getenv("PROCACTOR_SPAWN") != nullptr) {
    MESSAGE("actors start with exec in this run: no spare to kill");
    return;
  }
  actor_scope scope;
  temp_dir dir;
  auto spares_now = [] {
    std::vector<int> found;
    for (const auto& child : probe::children_of(static_cast<int>(::getpid()))) {
      if (child.command == "procactor-spare" && child.state != 'Z') found.push_back(child.pid);
    }
    return found;
  };
  auto first = scope.spawn<restarting::Journal>("spare-a", journal_options(dir));
  REQUIRE(first.ask<int>(restarting::Ping{}, 10s).get() > 0);
  // Asked for as `first` started, made a moment later: two of them.
  std::vector<int> spares;
  REQUIRE(eventually([&] { return (spares = spares_now()).size() == 2; }));
  for (int spare : spares) REQUIRE(::kill(spare, SIGKILL) == 0);
  for (int spare : spares) REQUIRE(eventually([&] { return probe::status_of(spare).state == 'Z'; }));

  auto second = scope.spawn<restarting::Journal>("spare-b", journal_options(dir));
  const int pid = second.ask<int>(restarting::Ping{}, 10s).get();
  CHECK(pid > 0);
  CHECK(second.pid() == pid);
  // The supervisor found each spare dead as it handed it the start, reaped
  // it, had the server fork the actor instead, and asked for new spares.
  for (int spare : spares) {
    CHECK(pid != spare);
    CHECK(probe::status_of(spare).pid == 0);
  }
  CHECK(eventually([&] { return spares_now().size() == 2; }));
}

}  // TEST_SUITE
