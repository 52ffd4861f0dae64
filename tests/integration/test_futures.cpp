// Futures as concurrent.futures has them: get with a timeout, exception(),
// then/on_done, cancel, wait_any/wait_all and as_completed, through real
// actor processes. Every wait is on an event: a gated actor answers only
// once the test has created its gate file.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "support.hpp"

namespace futures {

// Answers `value` once the file `gate` exists.
struct Gated {
  std::string gate;
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(gate, value);
  }
};
struct Throw {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Crash {
  template <class Archive>
  void serialize(Archive&) {}
};

}  // namespace futures
PROCACTOR_MESSAGE(futures::Gated);
PROCACTOR_MESSAGE(futures::Throw);
PROCACTOR_MESSAGE(futures::Crash);

namespace futures {

class Gatekeeper : public procactor::Actor<Gatekeeper, Gated, Throw, Crash> {
 public:
  int on(const Gated& g) {
    while (!std::filesystem::exists(g.gate)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return g.value;
  }
  int on(const Throw&) { throw std::runtime_error("thrown on purpose"); }
  int on(const Crash&) { std::abort(); }
};

// Leaves "started-<x>-<pid>" in `dir`, then waits for `gate`.
std::int64_t marked_gated_triple(std::string dir, std::string gate, std::int64_t x) {
  itest::append_line(dir + "/started-" + std::to_string(x) + "-" + std::to_string(::getpid()), "");
  while (!std::filesystem::exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return 3 * x;
}

}  // namespace futures
PROCACTOR_ACTOR(futures::Gatekeeper);
PROCACTOR_FUNCTION(futures::marked_gated_triple);

using namespace itest;
using procactor::errc;

namespace {

void open_gate(const std::string& path) { append_line(path, "open"); }

// The code of the error a future ended with, read through exception().
template <class T>
errc code_of(const procactor::Future<T>& future) {
  const std::exception_ptr failure = future.exception();
  if (!failure) return errc::ok;
  try {
    std::rethrow_exception(failure);
  } catch (const procactor::error& e) {
    return e.code();
  }
}

}  // namespace

TEST_SUITE("futures") {

TEST_CASE("get(timeout) throws errc::timeout and leaves the future valid; the value comes later" *
          doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  auto answer = keeper.ask<int>(futures::Gated{dir.file("gate"), 7}, 60s);
  try {
    (void)answer.get(20ms);
    FAIL("get(20ms) returned before the gate was opened");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::timeout);
  }
  CHECK_FALSE(answer.ready());
  CHECK_FALSE(answer.wait_for(10ms));
  CHECK(answer.valid());
  open_gate(dir.file("gate"));
  CHECK(answer.get(60s) == 7);
  CHECK(answer.ready());
  CHECK(answer.get() == 7);  // a future can be read again
  CHECK(answer.exception() == nullptr);
}

TEST_CASE("exception() returns the error without throwing it" * doctest::timeout(60)) {
  actor_scope scope;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  auto failed = keeper.ask<int>(futures::Throw{}, 30s);
  const std::exception_ptr failure = failed.exception();
  REQUIRE(failure != nullptr);
  try {
    std::rethrow_exception(failure);
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK(e.message().find("thrown on purpose") != std::string::npos);
  }
  CHECK(code_of(failed) == errc::handler_threw);
}

TEST_CASE("then chains run on the values, and an error passes through a chain untouched" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  auto text = keeper.ask<int>(futures::Gated{dir.file("gate"), 4}, 60s)
                  .then([](int v) { return v * 10; })
                  .then([](int v) { return "value " + std::to_string(v); });
  CHECK_FALSE(text.ready());
  open_gate(dir.file("gate"));
  CHECK(text.get() == "value 40");

  std::atomic<int> calls{0};
  auto failed = keeper.ask<int>(futures::Throw{}, 30s).then([&](int v) {
    ++calls;
    return v;
  });
  CHECK(code_of(failed) == errc::handler_threw);
  CHECK(calls.load() == 0);

  // A continuation that throws ends its future with that error.
  auto thrown = keeper.ask<int>(futures::Gated{dir.file("gate"), 1}, 30s).then([](int) -> int {
    throw procactor::error(errc::decode_failed, "from the continuation");
  });
  CHECK(code_of(thrown) == errc::decode_failed);
  // then on a Future<void>.
  // (ask<void> takes any reply on an untyped ref; a typed one insists on int.)
  auto after_void =
      procactor::ActorRef(keeper).ask<void>(futures::Gated{dir.file("gate"), 2}, 30s).then([] { return 5; });
  CHECK(after_void.get() == 5);
}

TEST_CASE("on_done runs once, with the outcome, even when no thread waits for the future" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  std::mutex mutex;
  std::vector<std::string> seen;
  auto record = [&](const std::string& what) {
    std::lock_guard guard(mutex);
    seen.push_back(what);
  };
  // A timeout with nobody waiting: the runtime's reply thread ends it.
  auto timed_out = keeper.ask<int>(futures::Gated{dir.file("never"), 1}, 200ms);
  timed_out.on_done([&](const procactor::Future<int>& f) {
    record(code_of(f) == errc::timeout ? "timeout" : "other");
  });
  REQUIRE(eventually([&] {
    std::lock_guard guard(mutex);
    return !seen.empty();
  }));
  // A value (from another keeper: this one is still in the gate that never
  // opens); then on_done on a future already done runs at once, here.
  auto second = scope.spawn<futures::Gatekeeper>("keeper");
  auto valued = second.ask<int>(futures::Gated{dir.file("gate"), 9}, 60s);
  valued.on_done([&](const procactor::Future<int>& f) { record("value " + std::to_string(f.get())); });
  open_gate(dir.file("gate"));
  REQUIRE(eventually([&] {
    std::lock_guard guard(mutex);
    return seen.size() == 2;
  }));
  valued.on_done([&](const procactor::Future<int>& f) { record("again " + std::to_string(f.get())); });
  {
    std::lock_guard guard(mutex);
    CHECK(seen == std::vector<std::string>{"timeout", "value 9", "again 9"});
  }
  // The keeper is still in the never-opened gate of the timed-out ask: free it.
  open_gate(dir.file("never"));
}

TEST_CASE("a then chain on a pool task survives its worker's SIGKILL" * doctest::timeout(90)) {
  temp_dir dir;
  procactor::PoolOptions options;
  options.name = unique_name("chain-pool");
  procactor::Pool pool(runtime(), 1, options);
  std::atomic<int> callbacks{0};
  auto chained = pool.submit(futures::marked_gated_triple, dir.path(), dir.file("gate"), 5)
                     .then([](std::int64_t v) { return v + 1; });
  chained.on_done([&](const procactor::Future<std::int64_t>&) { ++callbacks; });
  std::string marker;
  REQUIRE(eventually([&] {
    for (const auto& name : list_dir(dir.path())) {
      if (name.starts_with("started-5-")) marker = name;
    }
    return !marker.empty();
  }));
  const int victim = std::stoi(marker.substr(std::string("started-5-").size()));
  REQUIRE(::kill(victim, SIGKILL) == 0);
  // The task runs again in the replacement; only then is the gate opened.
  REQUIRE(eventually([&] {
    for (const auto& name : list_dir(dir.path())) {
      if (name.starts_with("started-5-") && name != marker) return true;
    }
    return false;
  }));
  open_gate(dir.file("gate"));
  CHECK(chained.get() == 16);
  REQUIRE(eventually([&] { return callbacks.load() == 1; }));
  CHECK(callbacks.load() == 1);
}

TEST_CASE("as_completed yields the futures in the order they end" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  std::vector<procactor::ActorRef> keepers;
  std::vector<procactor::Future<int>> answers;
  for (int i = 0; i < 3; ++i) {
    keepers.push_back(scope.spawn<futures::Gatekeeper>("keeper"));
    answers.push_back(keepers.back().ask<int>(futures::Gated{dir.file("gate-" + std::to_string(i)), 100 + i}, 60s));
  }
  const std::vector<std::size_t> release{2, 0, 1};
  open_gate(dir.file("gate-2"));
  std::vector<std::size_t> order;
  for (auto [index, future] : procactor::as_completed(answers)) {
    order.push_back(index);
    CHECK(future.get() == 100 + static_cast<int>(index));
    if (order.size() < release.size()) open_gate(dir.file("gate-" + std::to_string(release[order.size()])));
  }
  CHECK(order == release);
}

TEST_CASE("wait_any and wait_all, with and without a timeout" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  std::vector<procactor::Future<int>> answers;
  for (int i = 0; i < 3; ++i) {
    auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
    answers.push_back(keeper.ask<int>(futures::Gated{dir.file("gate-" + std::to_string(i)), i}, 60s));
  }
  CHECK_FALSE(procactor::wait_any(answers, 20ms).has_value());
  CHECK_FALSE(procactor::wait_all(answers, 20ms));
  open_gate(dir.file("gate-1"));
  CHECK(procactor::wait_any(answers) == 1);
  CHECK_FALSE(procactor::wait_all(answers, 20ms));
  open_gate(dir.file("gate-0"));
  open_gate(dir.file("gate-2"));
  CHECK(procactor::wait_all(answers, 60s));
  procactor::wait_all(answers);
  for (int i = 0; i < 3; ++i) CHECK(answers[static_cast<std::size_t>(i)].get() == i);
}

// "For ever" written as hours::max() overflowed the clock's nanoseconds
// and came out negative: each of these waits ended at once, as timed out.
TEST_CASE("a timeout of hours::max() waits for the event" * doctest::timeout(120)) {
  actor_scope scope;
  temp_dir dir;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  std::vector<procactor::Future<int>> answers;
  answers.push_back(keeper.ask<int>(futures::Gated{dir.file("gate"), 5}, std::chrono::hours::max()));
  // Opened while the waits below wait; whenever it comes, they go on then.
  std::thread opener([&] {
    std::this_thread::sleep_for(200ms);
    open_gate(dir.file("gate"));
  });
  CHECK(procactor::wait_any(answers, std::chrono::hours::max()) == 0);
  opener.join();
  CHECK(procactor::wait_all(answers, std::chrono::hours::max()));
  for (auto [index, future] : procactor::as_completed(answers, std::chrono::nanoseconds::max())) {
    CHECK(index == 0);
    CHECK(future.get() == 5);
  }
  CHECK(keeper.ask<int>(futures::Gated{dir.file("gate"), 6}, std::chrono::nanoseconds::max()).get() == 6);
  // A timer that far off is pending, not fired.
  auto far = procactor::send_after(keeper, std::chrono::hours::max(), futures::Gated{dir.file("gate"), 7});
  CHECK(keeper.ask<int>(futures::Gated{dir.file("gate"), 8}, 60s).get() == 8);
  CHECK(far.active());
  CHECK(far.cancel());
  procactor::ActorRef(keeper).close();
  CHECK(keeper.join(std::chrono::milliseconds::max()));
}

// wait_any and as_completed of such a future took its null request and
// crashed the program (SIGSEGV).
TEST_CASE("a Future with no request says so when it is used" * doctest::timeout(30)) {
  const procactor::Future<int> none;
  CHECK_FALSE(none.valid());
  const std::vector<procactor::Future<int>> among(1);
  for (int call = 0; call < 7; ++call) {
    CAPTURE(call);
    try {
      if (call == 0) (void)none.ready();
      if (call == 1) (void)none.get();
      if (call == 2) (void)none.wait_for(10ms);
      if (call == 3) none.on_done([](const procactor::Future<int>&) {});
      if (call == 4) (void)procactor::wait_any(among);
      if (call == 5) (void)procactor::wait_any(among, 10ms);
      if (call == 6) {
        for (auto completed : procactor::as_completed(among)) (void)completed;
      }
      FAIL("a Future with no request was used");
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK_MESSAGE(e.message().find("default-constructed") != std::string::npos, e.message());
    }
  }
}

TEST_CASE("wait_any ends a future whose actor died with the request in flight" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions once;
  once.restart = procactor::Restart::temporary;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper", once);
  auto other = scope.spawn<futures::Gatekeeper>("keeper");
  std::vector<procactor::Future<int>> answers{other.ask<int>(futures::Gated{dir.file("never"), 1}, 60s),
                                              keeper.ask<int>(futures::Crash{}, 60s)};
  CHECK(procactor::wait_any(answers) == 1);
  CHECK(code_of(answers[1]) == errc::actor_died);
  CHECK_FALSE(answers[0].ready());
  open_gate(dir.file("never"));
  CHECK(answers[0].get() == 1);
}

TEST_CASE("cancel() of an ask is refused: its message is already in the actor's mailbox" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  auto keeper = scope.spawn<futures::Gatekeeper>("keeper");
  auto answer = keeper.ask<int>(futures::Gated{dir.file("gate"), 3}, 60s);
  CHECK_FALSE(answer.cancel());
  CHECK_FALSE(answer.cancelled());
  open_gate(dir.file("gate"));
  CHECK(answer.get() == 3);
  CHECK_FALSE(answer.cancel());  // done: nothing to withdraw
}

}  // TEST_SUITE
