// Pools: results equal the serial ones; a worker killed mid-task is replaced
// and its task re-run; a throwing task fails its future; a task that kills
// its worker every time ends as poisoned and the pool goes on.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <map>
#include <regex>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>

#include "support.hpp"

namespace pooling {

std::int64_t mix(std::int64_t x, std::int64_t y) { return x * x - 3 * y + 7; }

// Leaves "started-<x>-<pid>" in `dir` so that the test knows which process
// runs it, then takes long enough to be killed in the middle.
std::int64_t slow_triple(std::int64_t x, std::string dir, std::int64_t milliseconds) {
  itest::append_line(dir + "/started-" + std::to_string(x) + "-" + std::to_string(::getpid()), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  return 3 * x;
}

std::int64_t reject_negative(std::int64_t x) {
  if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
  return x;
}

std::int64_t crash_worker(std::int64_t) { std::abort(); }
std::int64_t exit_worker(std::int64_t code) { std::exit(static_cast<int>(code)); }

// Waits for the file `gate`, then returns x.
std::int64_t gated(std::string gate, std::int64_t x) {
  while (!std::filesystem::exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return x;
}

// Leaves "hung-<pid>" in `dir` and never returns.
std::int64_t hang(std::string dir) {
  itest::append_line(dir + "/hung-" + std::to_string(::getpid()), "");
  for (;;) ::pause();
}

std::int64_t my_pid() { return ::getpid(); }

// What the initializer of this worker process left.
std::string greeting;
void greet(std::string text) { greeting = std::move(text); }
std::string read_greeting() { return greeting; }
void refuse(std::string why) { throw std::runtime_error(why); }

// Leaves "done-<x>" in `dir`; throws for a negative x. Returns nothing.
void mark(std::string dir, std::int64_t x) {
  if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
  itest::append_line(dir + "/done-" + std::to_string(x), "");
}

}  // namespace pooling
PROCACTOR_FUNCTION(pooling::mix);
PROCACTOR_FUNCTION(pooling::slow_triple);
PROCACTOR_FUNCTION(pooling::reject_negative);
PROCACTOR_FUNCTION(pooling::crash_worker);
PROCACTOR_FUNCTION(pooling::exit_worker);
PROCACTOR_FUNCTION(pooling::gated);
PROCACTOR_FUNCTION(pooling::hang);
PROCACTOR_FUNCTION(pooling::my_pid);
PROCACTOR_FUNCTION(pooling::greet);
PROCACTOR_FUNCTION(pooling::read_greeting);
PROCACTOR_FUNCTION(pooling::refuse);
PROCACTOR_FUNCTION(pooling::mark);

using namespace itest;
using procactor::errc;

namespace {

procactor::PoolOptions pool_options(int poison_limit = 3) {
  procactor::PoolOptions options;
  options.name = unique_name("pool");
  options.poison_limit = poison_limit;
  return options;
}

}  // namespace

TEST_SUITE("pool") {

TEST_CASE("pool.map gives the serial results, in order" * doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 3, pool_options());
  std::vector<std::tuple<std::int64_t, std::int64_t>> items;
  std::vector<std::int64_t> serial;
  for (std::int64_t i = -100; i < 400; ++i) {
    items.emplace_back(i, i % 17);
    serial.push_back(pooling::mix(i, i % 17));
  }
  CHECK(pool.map(pooling::mix, items) == serial);
  CHECK(pool.submit(pooling::mix, 4, 1).get() == pooling::mix(4, 1));
}

// README's own snippet makes a Worker, then a Pool, each with the default
// name: the second used to throw, as every later one did (a group's name
// outlives its pool).
TEST_CASE("workers and pools made one after another with the default name each get a free one" *
          doctest::timeout(120)) {
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    procactor::Worker worker(runtime());
    CHECK(worker.submit(pooling::mix, 4, 1).get() == pooling::mix(4, 1));
    procactor::Pool pool(runtime(), 2);
    CHECK(pool.submit(pooling::mix, 5, 2).get() == pooling::mix(5, 2));
    for (const auto& ref : {worker.workers().at(0), pool.workers().at(0)}) {
      const std::string name = ref.name();
      CAPTURE(name);
      CHECK(std::regex_match(name, std::regex(R"(worker(-[0-9]+)?\.0)")));
      CHECK(std::find(names.begin(), names.end(), name) == names.end());
      names.push_back(name);
    }
  }
  // A name given that is taken is the caller's mistake, and says so.
  procactor::PoolOptions taken;
  taken.name = names.front().substr(0, names.front().size() - 2);
  try {
    procactor::Pool pool(runtime(), 1, taken);
    FAIL("a pool took a name that was taken");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK_MESSAGE(e.message().find("already exists") != std::string::npos, e.message());
  }
}

// A pool whose third worker cannot be made is no pool: the two made before
// it used to stay, idle processes of the run that nobody would close.
TEST_CASE("a pool that fails to make one of its workers leaves none of the others running" * doctest::timeout(120)) {
  procactor::PoolOptions options = pool_options();
  actor_scope scope;
  // An actor with the name of its third worker.
  scope.adopt(runtime().spawn("procactor.Worker", options.name + ".2"));
  try {
    procactor::Pool pool(runtime(), 4, options);
    FAIL("a pool was made with a worker's name taken");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK_MESSAGE(e.message().find("already exists") != std::string::npos, e.message());
  }
  for (const std::string& name : {options.name + ".0", options.name + ".1"}) {
    CAPTURE(name);
    const procactor::ActorRef worker = runtime().find(name);
    REQUIRE(worker.valid());
    const procactor::ActorInfo info = runtime().info(worker);
    CHECK(info.state == procactor::ActorState::exited);
    CHECK(info.pid == 0);
  }
}

// ref.kill() and ref.close() on a worker end it for good (a SIGKILL from
// outside is a crash, and it comes back). The pool used to go on handing
// tasks to it, and each failed with no_such_actor or closed.
TEST_CASE("a pool worker killed or closed by hand takes no more tasks and the others do them all" *
          doctest::timeout(120)) {
  for (const bool kill : {true, false}) {
    CAPTURE(kill);
    procactor::Pool pool(runtime(), 3, pool_options());
    const procactor::ActorRef victim = pool.workers().at(0);
    if (kill) {
      victim.kill();
    } else {
      victim.close();
    }
    REQUIRE(victim.join(30s));
    std::vector<std::tuple<std::int64_t, std::int64_t>> items;
    std::vector<std::int64_t> serial;
    for (std::int64_t i = 0; i < 60; ++i) {
      items.emplace_back(i, 1);
      serial.push_back(pooling::mix(i, 1));
    }
    CHECK(pool.map(pooling::mix, items) == serial);
    std::set<std::int64_t> pids;
    for (int i = 0; i < 20; ++i) pids.insert(pool.submit(pooling::my_pid).get());
    CHECK(pids.size() <= 2);
    CHECK(pids.count(victim.pid().value_or(-1)) == 0);
  }
}

// A pool past Options::max_actors started workers up to the limit, then
// threw: they, and their slots, stayed for the rest of the run.
TEST_CASE("a pool that would not fit under max_actors is refused before it starts any worker" * doctest::timeout(60)) {
  const std::size_t used = runtime().actors().size();
  const std::size_t room = runtime().options().max_actors - used;
  auto options = pool_options();
  try {
    procactor::Pool too_big(runtime(), room + 1, options);
    FAIL("a pool of " << room + 1 << " workers was made");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(e.message() == "a pool of " + std::to_string(room + 1) + " workers does not fit: the run has room for " +
                             std::to_string(room) + " more actors (Options::max_actors = " +
                             std::to_string(runtime().options().max_actors) + ")");
  }
  CHECK(runtime().actors().size() == used);
  procactor::Pool fits(runtime(), 1, options);
  CHECK(fits.submit(pooling::mix, std::int64_t{2}, std::int64_t{1}).get() == pooling::mix(2, 1));
}

// With no other worker left, nothing would ever take the tasks: the pool
// used to keep them, so that their futures never ended and its destructor
// waited for them for ever.
TEST_CASE("a Worker whose one worker is killed by hand mid-task fails that task and every later one at once" *
          doctest::timeout(120)) {
  temp_dir dir;
  std::optional<procactor::Worker> worker(std::in_place, runtime(), pool_options());
  const std::string never = dir.path() + "/never";
  auto running = worker->submit(pooling::hang, dir.path());
  auto next = worker->submit(pooling::gated, never, std::int64_t{1});     // in the worker's mailbox
  auto waiting = worker->submit(pooling::gated, never, std::int64_t{2});  // in the pool
  REQUIRE(eventually([&] { return list_dir(dir.path()).size() == 1; }));  // hang() runs
  worker->workers()[0].kill();
  auto fails_with = [](auto& future, errc code, const std::string& text) {
    try {
      (void)future.get();
      FAIL("the task returned");
    } catch (const procactor::error& e) {
      CHECK(e.code() == code);
      CHECK_MESSAGE(e.message().find(text) != std::string::npos, e.message());
    }
  };
  const std::string none = "the pool's worker " + worker->workers()[0].name() + " has ended for good";
  fails_with(running, errc::actor_died, none + " (killed or closed); it had this task");
  // Queued in the worker's mailbox as it ended: it never started.
  fails_with(next, errc::no_such_actor, none + " (killed or closed): the task never started");
  fails_with(waiting, errc::no_such_actor, none + " (killed or closed): the task never started");
  auto later = worker->submit(pooling::my_pid);
  fails_with(later, errc::no_such_actor, "the task never started");
  CHECK(worker->in_flight() == 0);
  worker.reset();  // returns: nothing is left to wait for
}

TEST_CASE("a task submitted after every worker was killed by hand fails no_such_actor: it never started" *
          doctest::timeout(120)) {
  procactor::Pool pool(runtime(), 2, pool_options());
  REQUIRE(pool.submit(pooling::my_pid).get() > 0);
  for (const auto& w : pool.workers()) w.kill();
  for (const auto& w : pool.workers()) REQUIRE(w.join(30s));
  // The pool learns of their end from this task: each worker refuses it.
  for (int i = 0; i < 3; ++i) {
    auto task = pool.submit(pooling::my_pid);
    try {
      (void)task.get();
      FAIL("the task returned");
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::no_such_actor);
      CHECK_MESSAGE(e.message().find("the task never started") != std::string::npos, e.message());
    }
  }
  CHECK(pool.in_flight() == 0);
}

TEST_CASE("a pool worker SIGKILLed in the middle of a task is replaced and the task's result is still right" *
          doctest::timeout(90)) {
  temp_dir dir;
  procactor::Pool pool(runtime(), 2, pool_options());
  std::vector<procactor::Future<std::int64_t>> futures;
  for (std::int64_t x = 0; x < 8; ++x) futures.push_back(pool.submit(pooling::slow_triple, x, dir.path(), 400));

  // Task 0 went to worker 0; wait until it runs there, then kill that process.
  std::string marker;
  REQUIRE(eventually([&] {
    for (const auto& name : list_dir(dir.path())) {
      if (name.starts_with("started-0-")) marker = name;
    }
    return !marker.empty();
  }));
  const int victim = std::stoi(marker.substr(std::string("started-0-").size()));
  CHECK(victim == pool.workers()[0].pid());
  REQUIRE(::kill(victim, SIGKILL) == 0);

  for (std::int64_t x = 0; x < 8; ++x) CHECK(futures[static_cast<std::size_t>(x)].get() == 3 * x);

  // Task 0 ran again, in another process: the replacement worker.
  int runs_of_task0 = 0;
  for (const auto& name : list_dir(dir.path())) runs_of_task0 += name.starts_with("started-0-") ? 1 : 0;
  CHECK(runs_of_task0 >= 2);
  CHECK(pool.workers()[0].pid() != victim);
  CHECK(runtime().info(pool.workers()[0]).restarts >= 1);
  // And the pool still works on every worker.
  std::vector<std::tuple<std::int64_t, std::int64_t>> items{{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  CHECK(pool.map(pooling::mix, items) ==
        std::vector<std::int64_t>{pooling::mix(1, 2), pooling::mix(3, 4), pooling::mix(5, 6), pooling::mix(7, 8)});
}

TEST_CASE("a pool task that throws fails its future with errc::handler_threw and the exception's message" *
          doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 2, pool_options());
  try {
    (void)pool.submit(pooling::reject_negative, -5).get();
    FAIL("the throwing task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK(e.message().find("negative input -5") != std::string::npos);
  }
  CHECK(pool.submit(pooling::reject_negative, 5).get() == 5);
  for (const auto& worker : pool.workers()) CHECK(runtime().info(worker).restarts == 0);
}

TEST_CASE("a pool task that crashes its worker every time ends as errc::poisoned and the pool keeps working" *
          doctest::timeout(90)) {
  constexpr int poison_limit = 3;
  procactor::Pool pool(runtime(), 2, pool_options(poison_limit));
  const auto worker = pool.workers()[0];  // round robin: the first task goes to worker 0
  try {
    (void)pool.submit(pooling::crash_worker, 1).get();
    FAIL("the crashing task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::poisoned);
    // The asker sees only this text: it names the task and the worker.
    CHECK_MESSAGE(e.message().find("procactor.task(pooling::crash_worker) crashed " + worker.name() + " 3 times") !=
                      std::string::npos,
                  e.message());
  }
  CHECK(runtime().info(worker).restarts == poison_limit);
  REQUIRE(eventually([&] { return !dead_letters_of(worker.name()).empty(); }));
  const auto letters = dead_letters_of(worker.name());
  CHECK(letters.size() == 1);
  CHECK(letters.front().reason.find("poisoned") != std::string::npos);
  CHECK(letters.front().type_name == "procactor.task(pooling::crash_worker)");  // and the task's function
  // Each crash's exit record names the message in flight.
  const auto exits = runtime().info(worker).exits;
  REQUIRE(!exits.empty());
  CHECK(exits.back().inflight_type == "procactor.task");

  // Every worker, the one that crashed included, still answers.
  std::vector<procactor::Future<std::int64_t>> futures;
  for (std::int64_t x = 0; x < 6; ++x) futures.push_back(pool.submit(pooling::reject_negative, x));
  for (std::int64_t x = 0; x < 6; ++x) CHECK(futures[static_cast<std::size_t>(x)].get() == x);
  CHECK(runtime().info(worker).state == procactor::ActorState::running);
}

TEST_CASE("a pool task that calls exit(0) counts as a crash: it ends as errc::poisoned and the pool keeps working" *
          doctest::timeout(90)) {
  // Before, an exit code 0 with the task in hand was a normal exit: the
  // permanent worker was restarted and given the task again, for ever.
  constexpr int poison_limit = 3;
  procactor::Pool pool(runtime(), 1, pool_options(poison_limit));
  const auto worker = pool.workers()[0];
  try {
    (void)pool.submit(pooling::exit_worker, 0).get(60s);
    FAIL("the exiting task returned");
  } catch (const procactor::error& e) {
    CHECK_MESSAGE(e.code() == errc::poisoned, e.what());
  }
  CHECK(runtime().info(worker).restarts == poison_limit);
  const auto exits = runtime().info(worker).exits;
  REQUIRE(!exits.empty());
  CHECK(exits.back().how == "exit code 0 with a message in hand");
  CHECK(pool.submit(pooling::reject_negative, 7).get(60s) == 7);
}

TEST_CASE("submit returns at once while every worker is busy; a queued task can be cancelled, a started one not" *
          doctest::timeout(60)) {
  temp_dir dir;
  procactor::Pool pool(runtime(), 1, pool_options());
  std::vector<procactor::Future<std::int64_t>> futures;
  for (std::int64_t x = 0; x < 6; ++x) futures.push_back(pool.submit(pooling::gated, dir.file("gate"), x));
  // The worker holds two (the one it runs, the next); four wait in the pool.
  CHECK(pool.in_flight() == 6);
  CHECK(pool.queued() == 4);
  CHECK(futures[5].cancel());
  CHECK(futures[5].cancelled());
  CHECK(futures[5].ready());
  try {
    (void)futures[5].get();
    FAIL("a cancelled task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::cancelled);
  }
  CHECK(pool.queued() == 3);
  CHECK_FALSE(futures[0].cancel());  // handed to the worker: started
  CHECK_FALSE(futures[5].cancel());  // already cancelled
  append_line(dir.file("gate"), "open");
  for (std::int64_t x = 0; x < 5; ++x) CHECK(futures[static_cast<std::size_t>(x)].get() == x);
  CHECK(pool.in_flight() == 0);
}

TEST_CASE("map with collect_errors keeps every result when one task fails; plain map throws it" *
          doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 2, pool_options());
  const std::vector<std::int64_t> items{1, 2, -3, 4, 5};
  auto results = pool.map(pooling::reject_negative, items, procactor::collect_errors);
  REQUIRE(results.size() == items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i] < 0) {
      CHECK_FALSE(results[i].ok());
      CHECK(results[i].failure().code() == errc::handler_threw);
      CHECK(results[i].failure().message().find("negative input -3") != std::string::npos);
    } else {
      REQUIRE(results[i].ok());
      CHECK(results[i].value() == items[i]);
    }
  }
  try {
    (void)pool.map(pooling::reject_negative, items);
    FAIL("map returned although a task failed");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
  }
}

TEST_CASE("map of a function that returns nothing returns once every item has run, or throws the first error" *
          doctest::timeout(60)) {
  procactor::Pool pool(runtime(), 2, pool_options());
  temp_dir dir;
  std::vector<std::tuple<std::string, std::int64_t>> items;
  for (std::int64_t x = 0; x < 20; ++x) items.emplace_back(dir.path(), x);
  static_assert(std::is_void_v<decltype(pool.map(pooling::mark, items))>);
  pool.map(pooling::mark, items);
  auto files = list_dir(dir.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> expected;
  for (std::int64_t x = 0; x < 20; ++x) expected.push_back("done-" + std::to_string(x));
  std::sort(expected.begin(), expected.end());
  CHECK(files == expected);

  items.emplace_back(dir.path(), -1);
  items.emplace_back(dir.path(), 20);
  try {
    pool.map(pooling::mark, items);
    FAIL("map returned although a task failed");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK(e.message().find("negative input -1") != std::string::npos);
  }
  // Every item ran before the error was thrown.
  CHECK(std::filesystem::exists(dir.file("done-20")));
}

TEST_CASE("imap streams results in order before the last task ends; imap_unordered as they end" *
          doctest::timeout(90)) {
  temp_dir dir;
  procactor::Pool pool(runtime(), 2, pool_options());
  // The last item waits for a gate that opens only once the first four
  // results have been read: a map that waited for every task would hang.
  std::vector<std::tuple<std::string, std::int64_t>> items;
  for (std::int64_t x = 0; x < 5; ++x) items.emplace_back(x == 4 ? dir.file("last") : dir.file("open"), x);
  append_line(dir.file("open"), "open");
  std::vector<std::int64_t> seen;
  for (std::int64_t value : pool.imap(pooling::gated, items)) {
    seen.push_back(value);
    if (seen.size() == 4) append_line(dir.file("last"), "open");
  }
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 4});

  // Unordered: the first item waits for a gate that opens only once the
  // second one's result has been read, so it comes last. (Two items on two
  // workers: a third would wait behind the gated one in its worker's mailbox.)
  items = {{dir.file("first"), 0}, {dir.file("open"), 1}};
  seen.clear();
  for (std::int64_t value : pool.imap_unordered(pooling::gated, items)) {
    seen.push_back(value);
    if (seen.size() == 1) append_line(dir.file("first"), "open");
  }
  CHECK(seen == std::vector<std::int64_t>{1, 0});

  // Chunks of 3: the same results, and one failing item costs only itself.
  std::vector<std::int64_t> numbers;
  for (std::int64_t x = -2; x < 20; ++x) numbers.push_back(x);
  std::vector<std::int64_t> values;
  int failures = 0;
  auto stream = pool.imap(pooling::reject_negative, numbers, 3);
  CHECK(stream.size() == numbers.size());
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    try {
      values.push_back(*it);
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::handler_threw);
      ++failures;
    }
  }
  CHECK(failures == 2);
  std::vector<std::int64_t> expected;
  for (std::int64_t x = 0; x < 20; ++x) expected.push_back(x);
  CHECK(values == expected);
}

TEST_CASE("a pool task that hangs past stall_timeout fails with errc::timeout, runs once, and its worker is replaced" *
          doctest::timeout(90)) {
  temp_dir dir;
  auto options = pool_options();
  options.stall_timeout = 300ms;
  procactor::Pool pool(runtime(), 1, options);
  const auto worker = pool.workers()[0];
  REQUIRE(eventually([&] { return worker.pid().has_value(); }));
  const int first = *worker.pid();
  try {
    (void)pool.submit(pooling::hang, dir.path()).get();
    FAIL("the hung task returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::timeout);
    CHECK(e.message().find("stall_timeout") != std::string::npos);
  }
  // The next task runs in a new process, and the hung one did not run again.
  CHECK(pool.submit(pooling::my_pid).get() != first);
  CHECK(list_dir(dir.path()).size() == 1);
  REQUIRE(eventually([&] { return !dead_letters_of(worker.name()).empty(); }));
  CHECK(dead_letters_of(worker.name()).front().reason.find("stall_timeout") != std::string::npos);
}

TEST_CASE("max_tasks_per_child replaces a worker after that many tasks" * doctest::timeout(90)) {
  auto options = pool_options();
  options.max_tasks_per_child = 2;
  procactor::Worker worker(runtime(), options);
  std::map<std::int64_t, int> tasks_per_process;
  for (int i = 0; i < 6; ++i) ++tasks_per_process[worker.submit(pooling::my_pid).get()];
  CHECK(tasks_per_process.size() >= 3);
  for (const auto& [pid, tasks] : tasks_per_process) CHECK(tasks <= 2);
  // Retiring is not a crash: no dead letters, nothing poisoned.
  CHECK(dead_letters_of(worker.workers()[0].name()).empty());
}

TEST_CASE("a pool's initializer runs in every worker process, replacements included; one that throws fails the tasks" *
          doctest::timeout(90)) {
  auto options = pool_options();
  options.initializer = procactor::task(pooling::greet, std::string("hello from the initializer"));
  procactor::Pool pool(runtime(), 2, options);
  for (int i = 0; i < 4; ++i) CHECK(pool.submit(pooling::read_greeting).get() == "hello from the initializer");
  const auto worker = pool.workers()[0];
  REQUIRE(eventually([&] { return worker.pid().has_value(); }));
  const int victim = *worker.pid();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  REQUIRE(eventually([&] { return worker.pid().has_value() && *worker.pid() != victim; }));
  for (int i = 0; i < 4; ++i) CHECK(pool.submit(pooling::read_greeting).get() == "hello from the initializer");

  auto failing = pool_options();
  failing.initializer = procactor::task(pooling::refuse, std::string("no database here"));
  procactor::Worker broken(runtime(), failing);
  try {
    (void)broken.submit(pooling::my_pid).get();
    FAIL("a task ran in a worker whose initializer failed");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::handler_threw);
    CHECK(e.message().find("initializer") != std::string::npos);
    CHECK(e.message().find("no database here") != std::string::npos);
  }
  CHECK(runtime().info(broken.workers()[0]).restarts == 0);
}

}  // TEST_SUITE
