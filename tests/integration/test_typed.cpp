// TypedRef: what spawn<A> returns for an Actor<A, ...>. Its sends and asks
// go through real actor processes like an ActorRef's; what it refuses at
// compile time is tested in tests/compile_fail.
#include <string>
#include <type_traits>
#include <vector>

#include "support.hpp"

namespace typed {

struct Add {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
struct Total {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Greet {
  std::string who;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(who);
  }
};
struct Reset {
  template <class Archive>
  void serialize(Archive&) {}
};
// Makes a Via ask the Counter it names for Add{value}: a ref that travelled
// inside a message, made typed again in another actor's process.
struct AddVia {
  procactor::ActorRef counter;
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(counter, value);
  }
};

}  // namespace typed
PROCACTOR_MESSAGE(typed::Add);
PROCACTOR_MESSAGE(typed::Total);
PROCACTOR_MESSAGE(typed::Greet);
PROCACTOR_MESSAGE(typed::Reset);
PROCACTOR_MESSAGE(typed::AddVia);

namespace typed {

class Counter : public procactor::Actor<Counter, Add, Total, Greet, Reset> {
 public:
  int on(const Add& add) { return total_ += add.value; }
  int on(const Total&) { return total_; }
  std::string on(const Greet& greet) { return "hello " + greet.who + " from " + name(); }
  void on(const Reset&) { total_ = 0; }

 private:
  int total_ = 0;
};

class Via : public procactor::Actor<Via, AddVia> {
 public:
  int on(const AddVia& via) {
    return procactor::TypedRef<Counter>::from(via.counter).ask(Add{via.value}, std::chrono::seconds(30)).get();
  }
};

}  // namespace typed
PROCACTOR_ACTOR(typed::Counter);
PROCACTOR_ACTOR(typed::Via);

using namespace itest;
using procactor::ActorRef;
using procactor::errc;
using procactor::Future;
using procactor::TypedRef;

// What spawn gives, and what a typed ask deduces, are facts of the types.
static_assert(std::is_same_v<decltype(std::declval<actor_scope&>().spawn<typed::Counter>("")), TypedRef<typed::Counter>>);
static_assert(std::is_same_v<TypedRef<typed::Counter>::reply_t<typed::Add>, int>);
static_assert(std::is_same_v<TypedRef<typed::Counter>::reply_t<typed::Greet>, std::string>);
static_assert(std::is_same_v<TypedRef<typed::Counter>::reply_t<typed::Reset>, void>);
static_assert(TypedRef<typed::Counter>::handles<typed::Add> && !TypedRef<typed::Counter>::handles<typed::AddVia>);
static_assert(sizeof(TypedRef<typed::Counter>) == sizeof(ActorRef));
static_assert(std::is_convertible_v<TypedRef<typed::Counter>, ActorRef>);

namespace {

// The error `call` threw; errc::ok when it threw none.
template <class Call>
procactor::error error_of(Call&& call) {
  try {
    call();
  } catch (const procactor::error& e) {
    return e;
  }
  return procactor::error(errc::ok, "threw nothing");
}

}  // namespace

TEST_SUITE("typed") {

TEST_CASE("a typed ask deduces int, std::string and void replies from the handlers" * doctest::timeout(60)) {
  actor_scope scope;
  auto counter = scope.spawn<typed::Counter>("counter");

  auto sum = counter.ask(typed::Add{20}, 30s);
  static_assert(std::is_same_v<decltype(sum), Future<int>>);
  CHECK(sum.get() == 20);
  // An explicit R that is the handler's type still compiles.
  CHECK(counter.ask<int>(typed::Add{22}, 30s).get() == 42);

  auto greeting = counter.ask(typed::Greet{"test"}, 30s);
  static_assert(std::is_same_v<decltype(greeting), Future<std::string>>);
  CHECK(greeting.get() == "hello test from " + counter.name());

  auto reset = counter.ask(typed::Reset{}, 30s);
  static_assert(std::is_same_v<decltype(reset), Future<void>>);
  reset.get();  // returns once the handler has run
  CHECK(counter.ask(typed::Total{}, 30s).get() == 0);
}

TEST_CASE("a typed ref sends the types its actor handles" * doctest::timeout(60)) {
  actor_scope scope;
  auto counter = scope.spawn<typed::Counter>("counter");
  counter.send(typed::Add{1});
  counter.send(typed::Add{2}, 10s);
  CHECK(counter.try_send(typed::Add{3}) == errc::ok);
  // The ask travels in the same lane, behind the three sends.
  CHECK(counter.ask(typed::Total{}, 30s).get() == 6);
}

TEST_CASE("a typed ref is an ActorRef: it converts, compares, travels and is found by name" * doctest::timeout(60)) {
  actor_scope scope;
  const auto counter = scope.spawn<typed::Counter>("counter");

  // Stored as an ActorRef it is untyped again and sends what it likes.
  const ActorRef plain = counter;
  std::vector<ActorRef> refs{counter};
  CHECK(plain == counter);
  CHECK(refs.front() == counter);
  plain.send(typed::Add{5});
  CHECK(plain.ask<int>(typed::Total{}, 30s).get() == 5);

  // Found by name: an ActorRef, made typed again by from().
  const ActorRef found = runtime().find(counter.name());
  REQUIRE(found == counter);
  const auto again = TypedRef<typed::Counter>::from(found);
  CHECK(again == counter);
  CHECK(again.ask(typed::Add{1}, 30s).get() == 6);

  // Inside a message it is an ActorRef's bytes: another actor's process
  // decodes it and makes it typed with from(), which checks the type there.
  CHECK(procactor::detail::decode<ActorRef>(procactor::detail::thread_encoder().encode(counter)) == plain);
  auto via = scope.spawn<typed::Via>("via");
  CHECK(via.ask(typed::AddVia{counter, 4}, 30s).get() == 10);
  CHECK(counter.ask(typed::Total{}, 30s).get() == 10);
}

TEST_CASE("TypedRef::from checks the actor's registered type at run time" * doctest::timeout(60)) {
  actor_scope scope;
  const auto counter = scope.spawn<typed::Counter>("counter");

  const auto wrong = error_of([&] { (void)TypedRef<typed::Via>::from(counter); });
  CHECK(wrong.code() == errc::type_mismatch);
  CHECK(wrong.message().find("typed.Counter") != std::string::npos);
  CHECK(wrong.message().find("typed.Via") != std::string::npos);

  // A ref that names no actor of this run (here: past the slot table).
  const ActorRef nowhere(procactor::detail::no_slot - 1);
  CHECK(error_of([&] { (void)TypedRef<typed::Counter>::from(nowhere); }).code() == errc::no_such_actor);

  // An invalid ref (what find() gives for an unknown name) stays invalid.
  CHECK_FALSE(TypedRef<typed::Counter>::from(runtime().find("typed-nobody")).valid());
}

}  // TEST_SUITE
