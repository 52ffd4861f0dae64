// spawn, send, close, join: the life of one actor, and sends that cannot land.
#include <signal.h>
#include <unistd.h>

#include <limits>

#include "support.hpp"

namespace lifecycle {

struct Note {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
// Makes the handler sleep, so that what is sent next is still queued.
struct Pause {
  int milliseconds = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(milliseconds);
  }
};

// As Pause, but says in the journal ("hold") that it has begun.
struct Hold {
  int milliseconds = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(milliseconds);
  }
};

// Makes a Relay send `count` Notes to the actor named `to`.
struct Forward {
  std::string to;
  int count = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(to, count);
  }
};

}  // namespace lifecycle
PROCACTOR_MESSAGE(lifecycle::Note);
PROCACTOR_MESSAGE(lifecycle::Pause);
PROCACTOR_MESSAGE(lifecycle::Hold);
PROCACTOR_MESSAGE(lifecycle::Forward);

namespace lifecycle {

// Appends every Note to the file named by the "journal" parameter: the file
// outlives the process, so the test sees what it handled before it exited.
class Recorder : public procactor::Actor<Recorder, Note, Pause, Hold> {
 public:
  void on(const Note& note) { itest::append_line(params().get<std::string>("journal"), std::to_string(note.value)); }
  void on(const Pause& pause) { std::this_thread::sleep_for(std::chrono::milliseconds(pause.milliseconds)); }
  void on(const Hold& hold) {
    itest::append_line(params().get<std::string>("journal"), "hold");
    std::this_thread::sleep_for(std::chrono::milliseconds(hold.milliseconds));
  }
};

class Relay : public procactor::Actor<Relay, Forward> {
 public:
  void on(const Forward& forward) {
    const procactor::ActorRef to = find(forward.to);
    for (int i = 1; i <= forward.count; ++i) to.send(Note{i});
  }
};

// Declares its parameters: answers a Note with its value times `step`.
class Stepper : public procactor::Actor<Stepper, Note> {
 public:
  static std::vector<procactor::ParamSpec> parameters() {
    return {{"step", procactor::ParamKind::integer, true, 1, 100}, {"label", procactor::ParamKind::string, false}};
  }
  int on(const Note& note) { return note.value * static_cast<int>(params().get<std::int64_t>("step")); }
};

}  // namespace lifecycle
PROCACTOR_ACTOR(lifecycle::Stepper);
PROCACTOR_ACTOR(lifecycle::Recorder);
PROCACTOR_ACTOR(lifecycle::Relay);

using namespace itest;
using procactor::errc;

TEST_SUITE("lifecycle") {

TEST_CASE("messages queued before close are all handled, in order, before the actor exits" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("recorder", options);

  // The pause keeps the Notes in the mailbox when close() arrives.
  recorder.send(lifecycle::Pause{300});
  constexpr int count = 200;
  for (int i = 1; i <= count; ++i) recorder.send(lifecycle::Note{i});
  recorder.close();

  REQUIRE(recorder.join(30s));
  const auto info = runtime().info(recorder);
  CHECK(info.state == procactor::ActorState::exited);
  CHECK(info.last_exit == "exit code 0");
  CHECK(info.processed == count + 1);
  CHECK(info.restarts == 0);

  const auto lines = read_lines(dir.file("journal"));
  REQUIRE(lines.size() == count);
  for (int i = 1; i <= count; ++i) CHECK(lines[static_cast<std::size_t>(i - 1)] == std::to_string(i));
}

TEST_CASE("a closed actor refuses new messages with errc::closed, before and after it exits" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("recorder", options);
  recorder.send(lifecycle::Pause{200});
  recorder.close();

  CHECK(recorder.try_send(lifecycle::Note{1}) == errc::closed);
  REQUIRE(recorder.join(30s));
  CHECK(recorder.try_send(lifecycle::Note{2}) == errc::closed);
  try {
    recorder.send(lifecycle::Note{3});
    FAIL("send to a closed actor returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::closed);
  }
  CHECK(read_lines(dir.file("journal")).empty());
}

TEST_CASE("join times out on a running actor and returns true once it has exited" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("recorder", options);
  CHECK_FALSE(recorder.join(50ms));
  CHECK(runtime().info(recorder).pid == recorder.pid().value_or(-1));
  CHECK(recorder.pid().value_or(0) > 0);
  recorder.close();
  CHECK(recorder.join(30s));
  CHECK_FALSE(recorder.pid().has_value());
  CHECK(recorder.join(0ms));  // already exited: at once
}

TEST_CASE("sending to an unknown name or an invalid ref gives no_such_actor" * doctest::timeout(30)) {
  const auto nobody = runtime().find("no-actor-has-this-name");
  CHECK_FALSE(nobody.valid());
  CHECK(nobody.try_send(lifecycle::Note{1}) == errc::no_such_actor);
  try {
    nobody.send(lifecycle::Note{1});
    FAIL("send to an unknown name returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::no_such_actor);
  }
  try {
    (void)nobody.ask<void>(lifecycle::Note{1}, 5s).get();
    FAIL("ask to an unknown name returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::no_such_actor);
  }

  const procactor::ActorRef invalid;
  CHECK(invalid.try_send(lifecycle::Note{1}) == errc::no_such_actor);
  // A slot number past the end of the run's slot table.
  const procactor::ActorRef stray(procactor::detail::slot_id{900});
  CHECK(stray.try_send(lifecycle::Note{1}) == errc::no_such_actor);
}

TEST_CASE("info() close() join() and kill() of a ref that names no actor throw no_such_actor" * doctest::timeout(30)) {
  for (const procactor::ActorRef ref : {procactor::ActorRef{}, procactor::ActorRef(procactor::detail::slot_id{900})}) {
    const auto refused = [](auto call) {
      try {
        call();
      } catch (const procactor::error& e) {
        CHECK(e.code() == errc::no_such_actor);
        return e.message();
      }
      return std::string("returned");
    };
    CHECK(refused([&] { (void)runtime().info(ref); }) != "returned");
    // As send refuses it: a join of no actor does not say it exited.
    const std::string what = ref.valid() ? "slot 900" : "an invalid ActorRef";
    CHECK(refused([&] { ref.close(); }) == "close() of " + what);
    CHECK(refused([&] { (void)ref.join(1s); }) == "join() of " + what);
    CHECK(refused([&] { ref.kill(); }) == "kill() of " + what);
  }
}

// As `procactor validate` checks a graph file's params: a spawn that would
// start a process failing as it starts, at every restart, is refused.
TEST_CASE("a spawn whose params its type declares otherwise is refused naming each problem and takes no name" *
          doctest::timeout(30)) {
  const auto refused = [](procactor::Params params) {
    procactor::SpawnOptions options;
    options.params = std::move(params);
    try {
      (void)runtime().spawn<lifecycle::Stepper>("stepper-refused", options);
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::invalid_argument);
      return e.message();
    }
    return std::string("spawned");
  };
  CHECK(refused({}) == "cannot spawn stepper-refused (lifecycle.Stepper): it needs param 'step' (an integer)");
  CHECK(refused(procactor::Params().set("step", std::int64_t{0}).set("stpe", std::int64_t{2})) ==
        "cannot spawn stepper-refused (lifecycle.Stepper): param 'step' must be from 1 to 100, not 0; unknown "
        "param 'stpe'");
  CHECK(refused(procactor::Params().set("step", 2.0)) ==
        "cannot spawn stepper-refused (lifecycle.Stepper): param 'step' must be an integer, not a float");
  CHECK_FALSE(runtime().find("stepper-refused").valid());
  // What it declares, it takes.
  actor_scope scope;
  procactor::SpawnOptions options;
  options.params.set("step", std::int64_t{3}).set("label", std::string("three"));
  auto stepper = scope.spawn<lifecycle::Stepper>("stepper", options);
  CHECK(stepper.ask(lifecycle::Note{5}, 10s).get() == 15);

  // Options that would act as others are refused too, as is a signal that
  // is none.
  const auto refused_options = [&](procactor::SpawnOptions odd) {
    odd.params = options.params;
    try {
      (void)runtime().spawn<lifecycle::Stepper>("stepper-odd", odd);
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::invalid_argument);
      return e.message();
    }
    return std::string("spawned");
  };
  procactor::SpawnOptions no_poison;
  no_poison.poison_limit = 0;
  CHECK(refused_options(no_poison) == "SpawnOptions::poison_limit of 0 for stepper-odd: it is at least 1");
  procactor::SpawnOptions shrinking;
  shrinking.backoff.multiplier = -1;
  CHECK(refused_options(shrinking) ==
        "SpawnOptions::backoff of stepper-odd: multiplier is at least 1 and jitter from 0 to 1");
  procactor::SpawnOptions backwards;
  backwards.backoff.initial = -5ms;
  CHECK(refused_options(backwards) ==
        "SpawnOptions::backoff of stepper-odd: initial, max and reset_after are 0 or more");
  procactor::SpawnOptions negative_watchdog;
  negative_watchdog.stall_timeout = -1ms;
  CHECK(refused_options(negative_watchdog) ==
        "SpawnOptions::stall_timeout of -1 ms for stepper-odd: 0 (no watchdog) or more");
  procactor::SpawnOptions no_core;
  no_core.cpu = -7;
  CHECK(refused_options(no_core) ==
        "SpawnOptions::cpu of -7 for stepper-odd: a core from 0 (taken modulo the cores online), or -1 for none");
  procactor::SpawnOptions too_nice;
  too_nice.nice = 100;
  CHECK(refused_options(too_nice) == "SpawnOptions::nice of 100 for stepper-odd: a nice level from -20 to 19");
  CHECK_FALSE(runtime().find("stepper-odd").valid());
  try {
    runtime().signal(stepper, 9999);
    FAIL("signal 9999 was sent");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(e.message() == "no signal 9999");
  }
}

TEST_CASE("a mailbox_capacity a lane cannot have is refused at spawn with invalid_argument naming it" *
          doctest::timeout(30)) {
  for (const std::size_t capacity : {std::size_t{16}, std::size_t{4095}, std::numeric_limits<std::size_t>::max()}) {
    CAPTURE(capacity);
    procactor::SpawnOptions options;
    options.mailbox_capacity = capacity;
    try {
      (void)runtime().spawn<lifecycle::Recorder>("odd-capacity", options);
      FAIL("a spawn with mailbox_capacity " << capacity << " succeeded");
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK(e.message().find("odd-capacity's SpawnOptions::mailbox_capacity of " + std::to_string(capacity)) !=
            std::string::npos);
    }
    CHECK_FALSE(runtime().find("odd-capacity").valid());  // nothing was made
  }
}

TEST_CASE("what is queued for an actor that ends for good becomes dead letters, and a queued ask is answered at once" *
          doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("ends-with-a-queue", options);
  // The pause holds the Notes and the ask in the mailbox until the kill.
  recorder.send(lifecycle::Pause{600'000});
  constexpr int count = 40;
  for (int i = 1; i <= count; ++i) recorder.send(lifecycle::Note{i});
  auto asked = recorder.ask<void>(lifecycle::Note{count + 1}, 600s);
  const std::string name = runtime().info(recorder).name;  // the scope makes it unique
  recorder.kill();
  REQUIRE(recorder.join(30s));

  // Answered by the supervisor as the actor ended, not at the ask's timeout.
  try {
    asked.get(60s);
    FAIL("an ask queued for a killed actor was answered");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::no_such_actor);
    CHECK(e.message().find(name + " ended for good") != std::string::npos);
  }
  // Every Note that was still queued is a dead letter, in order; the Pause
  // too if the kill came before the actor took it.
  std::vector<int> notes;
  for (const procactor::DeadLetter& letter : dead_letters_of(name)) {
    CHECK(letter.reason.find("ended for good") != std::string::npos);
    if (letter.type_name != "lifecycle::Note") continue;
    notes.push_back(procactor::detail::decode<lifecycle::Note>(letter.payload).value);
  }
  REQUIRE(notes.size() == count + 1);
  for (int i = 1; i <= count + 1; ++i) CHECK(notes[static_cast<std::size_t>(i - 1)] == i);
  const auto info = runtime().info(recorder);
  CHECK(info.queued_bytes == 0);
  CHECK(info.dead_letters >= count + 1);
  CHECK(read_lines(dir.file("journal")).empty());
}

TEST_CASE("the message an actor had in hand as it was killed is a dead letter that says so" * doctest::timeout(120)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("killed-in-hand", options);
  auto held = recorder.ask<void>(lifecycle::Hold{600'000}, 600s);
  REQUIRE(eventually([&] { return read_lines(dir.file("journal")) == std::vector<std::string>{"hold"}; }, 60s));
  for (int i = 1; i <= 3; ++i) recorder.send(lifecycle::Note{i});
  const std::string name = runtime().info(recorder).name;
  recorder.kill();
  REQUIRE(recorder.join(30s));
  // Its asker heard at once that the actor died with it in hand.
  try {
    held.get(60s);
    FAIL("the held ask was answered");
  } catch (const procactor::error& e) {
    CHECK((e.code() == errc::actor_died || e.code() == errc::no_such_actor));
  }
  const auto letters = dead_letters_of(name);
  REQUIRE(letters.size() == 4);
  CHECK(letters[0].type_name == "lifecycle::Hold");
  CHECK(letters[0].reason == "actor died: " + name + " ended for good (signal 9 (Killed)) while handling the message");
  CHECK(letters[0].attempts == 1);
  for (std::size_t i = 1; i < letters.size(); ++i) {
    CHECK(letters[i].type_name == "lifecycle::Note");
    CHECK(letters[i].reason ==
          "no such actor: " + name + " ended for good (signal 9 (Killed)) with the message still queued");
    CHECK(letters[i].attempts == 0);
  }
}

TEST_CASE("an actor is found by its name and the ref it gives is the spawned one" * doctest::timeout(30)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  auto recorder = scope.spawn<lifecycle::Recorder>("findme", options);
  const auto found = runtime().find(recorder.name());
  CHECK(found == recorder);
  found.send(lifecycle::Note{7});
  recorder.close();
  REQUIRE(recorder.join(30s));
  CHECK(read_lines(dir.file("journal")) == std::vector<std::string>{"7"});
}

TEST_CASE("info counts what came in from each sender, across a lane's growth and a restart" * doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal"));
  options.restart = procactor::Restart::permanent;
  auto recorder = scope.spawn<lifecycle::Recorder>("inbound-recorder", options);
  auto a = scope.spawn<lifecycle::Relay>("relay-a");
  auto b = scope.spawn<lifecycle::Relay>("relay-b");

  // Enough Notes from relay-a that its lane (4 KiB at first) grows.
  a.send(lifecycle::Forward{recorder.name(), 2000});
  b.send(lifecycle::Forward{recorder.name(), 30});
  for (int i = 1; i <= 7; ++i) recorder.send(lifecycle::Note{i});
  auto from = [&](const procactor::ActorRef& sender) -> std::uint64_t {
    for (const auto& in : runtime().info(recorder).inbound) {
      if (in.from.valid() == sender.valid() && (!sender.valid() || in.from.slot() == sender.slot())) return in.messages;
    }
    return 0;
  };
  REQUIRE(eventually([&] { return from(a) == 2000 && from(b) == 30 && from(procactor::ActorRef{}) == 7; }, 60s));

  // The counts belong to the mailbox, not to the incarnation.
  const auto before = recorder.pid();
  REQUIRE(before);
  REQUIRE(::kill(*before, SIGKILL) == 0);
  REQUIRE(eventually([&] { return runtime().info(recorder).restarts == 1; }, 60s));
  b.send(lifecycle::Forward{recorder.name(), 5});
  REQUIRE(eventually([&] { return from(b) == 35; }, 60s));
  CHECK(from(a) == 2000);
  CHECK(from(procactor::ActorRef{}) == 7);
  for (const auto& in : runtime().info(recorder).inbound) CHECK(in.queued_bytes == 0);
}

}  // TEST_SUITE
