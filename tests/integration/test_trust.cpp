// What a user must be able to trust: replies of the wrong type are caught,
// a ref's pid is never a bogus 0, dead letters are in when join returns,
// and damage to the shared memory is reported and bounded instead of
// silently losing messages or hanging callers.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <fstream>

#include "arena.hpp"
#include "envelope.hpp"
#include "mailbox.hpp"
#include "probe.hpp"
#include "process.hpp"
#include "support.hpp"

namespace trust {

struct Ask {
  template <class A>
  void serialize(A&) {}
};
struct Gate {
  std::string path;
  template <class A>
  void serialize(A& a) { a(path); }
};
struct Seq {
  std::uint64_t n = 0;
  template <class A>
  void serialize(A& a) { a(n); }
};
struct Seen {
  template <class A>
  void serialize(A&) {}
};
struct Unhandled {
  template <class A>
  void serialize(A&) {}
};
// Handled by no one: its copy into a dead letter takes a while.
struct Bulk {
  std::vector<char> bytes;
  template <class A>
  void serialize(A& a) {
    a(bytes);
  }
};

}  // namespace trust
PROCACTOR_MESSAGE(trust::Ask);
PROCACTOR_MESSAGE(trust::Gate);
PROCACTOR_MESSAGE(trust::Seq);
PROCACTOR_MESSAGE(trust::Seen);
PROCACTOR_MESSAGE(trust::Unhandled);
PROCACTOR_MESSAGE(trust::Bulk);

namespace trust {

class Numbers : public procactor::Actor<Numbers, Ask, Gate, Seq, Seen> {
 public:
  int on(const Ask&) { return static_cast<int>(::getpid()); }
  // Holds the mailbox still until the file exists.
  void on(const Gate& g) {
    while (::access(g.path.c_str(), F_OK) != 0) ::usleep(1000);
  }
  void on(const Seq& s) { seen_.push_back(s.n); }
  std::vector<std::uint64_t> on(const Seen&) { return seen_; }

 private:
  std::vector<std::uint64_t> seen_;
};

}  // namespace trust
PROCACTOR_ACTOR(trust::Numbers);

using namespace itest;
using procactor::errc;
namespace detail = procactor::detail;

namespace {

procactor::error ask_error(auto future) {
  try {
    (void)future.get();
  } catch (const procactor::error& e) {
    return e;
  }
  FAIL("the ask succeeded");
  return procactor::error(errc::ok, "");
}

const detail::arena& shm() { return detail::process::current()->shm(); }

}  // namespace

TEST_SUITE("trust") {

TEST_CASE("a reply carries its type: asking for another type is errc::type_mismatch naming both" *
          doctest::timeout(60)) {
  actor_scope scope;
  // Untyped: a TypedRef<Numbers> refuses the wrong types below at compile
  // time (tests/compile_fail); this is the check an ActorRef gets.
  const procactor::ActorRef numbers = scope.spawn<trust::Numbers>("numbers");
  CHECK(numbers.ask<int>(trust::Ask{}, 30s).get() > 0);

  const auto as_float = ask_error(numbers.ask<float>(trust::Ask{}, 30s));
  CHECK(as_float.code() == errc::type_mismatch);
  CHECK(as_float.message().find("int32") != std::string::npos);
  CHECK(as_float.message().find("float32") != std::string::npos);

  const auto as_string = ask_error(numbers.ask<std::string>(trust::Ask{}, 30s));
  CHECK(as_string.code() == errc::type_mismatch);
  CHECK(as_string.message().find("string") != std::string::npos);

  const auto as_vector = ask_error(numbers.ask<std::vector<std::uint64_t>>(trust::Ask{}, 30s));
  CHECK(as_vector.code() == errc::type_mismatch);
  // A Future<void> takes any answer: the caller only wants it done.
  CHECK_NOTHROW(numbers.ask<void>(trust::Ask{}, 30s).get());
}

TEST_CASE("a ref knows its running incarnation's pid as soon as it answers, and has none while it is down" *
          doctest::timeout(60)) {
  actor_scope scope;
  auto numbers = scope.spawn<trust::Numbers>("numbers");
  for (int round = 0; round < 5; ++round) {
    const int pid = numbers.ask<int>(trust::Ask{}, 30s).get();
    REQUIRE(numbers.pid() == pid);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // Asked while it is dead or restarting: the new incarnation answers,
    // and its pid is known to the ref by then.
    const int next = numbers.ask<int>(trust::Ask{}, 30s).get();
    CHECK(next != pid);
    CHECK(numbers.pid() == next);
  }
  numbers.kill();
  REQUIRE(numbers.join(30s));
  CHECK_FALSE(numbers.pid().has_value());
}

TEST_CASE("dead letters are in rt.dead_letters() as soon as close and join return" * doctest::timeout(60)) {
  for (int round = 0; round < 3; ++round) {
    actor_scope scope;
    // Untyped: a TypedRef<Numbers> would not compile the sends of an Unhandled.
    const procactor::ActorRef numbers = scope.spawn<trust::Numbers>("numbers");
    numbers.send(trust::Unhandled{});
    numbers.send(trust::Unhandled{});
    numbers.close();
    REQUIRE(numbers.join(30s));
    const auto letters = dead_letters_of(numbers.name());
    REQUIRE(letters.size() == 2);
    for (const auto& letter : letters) {
      CHECK(letter.type_name == "trust::Unhandled");
      CHECK(letter.reason.find("no handler") != std::string::npos);
    }
  }
}

TEST_CASE("an ask answered no_such_actor for a message left queued finds it in dead_letters(), and join waits for all" *
          doctest::timeout(120)) {
  int still_queued = 0;
  for (int round = 0; round < 5; ++round) {
    actor_scope scope;
    const procactor::ActorRef numbers = scope.spawn<trust::Numbers>("numbers");
    numbers.send(trust::Gate{"/nonexistent/procactor-never"});  // holds its mailbox still
    // 256 KiB: in a dead letter, a fresh copy that takes a while to make.
    const trust::Bulk bulk{std::vector<char>(256 * 1024, 'b')};
    int answered_queued = 0;
    auto settle = [&](procactor::Future<int> ask) {
      const procactor::error e = ask_error(std::move(ask));
      INFO(std::string(e.what()));
      // actor_died: it died while the ask waited for room, unsent.
      REQUIRE((e.code() == errc::no_such_actor || e.code() == errc::actor_died));
      if (std::string(e.what()).find("still queued") == std::string::npos) return false;
      ++answered_queued;
      // The letter is in before its asker hears of it.
      CHECK(dead_letters_of(numbers.name()).size() >= static_cast<std::size_t>(answered_queued));
      return true;
    };
    procactor::Future<int> first = numbers.ask<int>(bulk, 60s);
    procactor::Future<int> second = numbers.ask<int>(bulk, 60s);
    numbers.kill();
    settle(std::move(first));
    // Asked one by one as it ends: each is refused, or queued and answered
    // by the supervisor's drain as a dead letter; nothing else takes them.
    for (int i = 0; i < 200; ++i) {
      std::optional<procactor::Future<int>> ask;
      try {
        ask.emplace(numbers.ask<int>(bulk, 60s));
      } catch (const procactor::error& e) {
        REQUIRE((e.code() == errc::no_such_actor || e.code() == errc::actor_died));
        break;
      }
      if (!settle(std::move(*ask))) break;
    }
    settle(std::move(second));
    REQUIRE(numbers.join(30s));
    CHECK(dead_letters_of(numbers.name()).size() == static_cast<std::size_t>(answered_queued + 1));  // + the Gate
    CHECK(runtime().info(numbers).dead_letters == static_cast<std::uint64_t>(answered_queued + 1));
    still_queued += answered_queued;
  }
  CHECK(still_queued >= 5 * 2);
}

TEST_CASE("an overwritten slot-table entry is logged, counted and repaired, and no caller waits out its timeout" *
          doctest::timeout(90)) {
  actor_scope scope;
  auto numbers = scope.spawn<trust::Numbers>("numbers");
  REQUIRE(numbers.ask<int>(trust::Ask{}, 30s).get() > 0);
  const auto before = runtime().corruptions();

  SUBCASE("8 bytes over the supervisor's inbox offset") {
    detail::slot_entry& self = shm().slot(detail::supervisor_slot);
    const std::uint64_t good = self.inbox;
    self.inbox = 0x0123456789abcdefULL;
    auto answer = numbers.ask<int>(trust::Ask{}, 20s);
    try {
      const int pid = answer.get();  // the supervisor repaired the entry before the reply needed it
      CHECK(pid > 0);
    } catch (const procactor::error& e) {
      CHECK_MESSAGE(e.code() == errc::corrupt, e.what());
    }
    CHECK(eventually([&] { return self.inbox == good; }));
  }
  SUBCASE("8 bytes over an actor's mailbox offset") {
    detail::slot_entry& entry = shm().slot(numbers.slot());
    const std::uint64_t good = entry.mailbox;
    entry.mailbox = 64;
    try {
      numbers.send(trust::Seq{1});
    } catch (const procactor::error& e) {
      CHECK_MESSAGE(e.code() == errc::corrupt, e.what());
    }
    CHECK(eventually([&] { return entry.mailbox == good; }));
  }
  SUBCASE("a pid that is not the actor's") {
    detail::slot_entry& entry = shm().slot(numbers.slot());
    const int good = entry.pid.load();
    entry.pid.store(1);  // init: kill(2) must never be handed this
    const auto seen = numbers.pid();
    CHECK((!seen.has_value() || *seen == good));
    CHECK(eventually([&] { return entry.pid.load() == good; }));
  }
  SUBCASE("a state that is no state") {
    detail::slot_entry& entry = shm().slot(numbers.slot());
    entry.state.store(0xdead);
    CHECK(eventually([&] { return runtime().info(numbers).state == procactor::ActorState::running; }));
  }
  CHECK(runtime().corruptions() > before);
  // And the run goes on as before.
  CHECK(numbers.ask<int>(trust::Ask{}, 30s).get() > 0);
}

TEST_CASE("a damaged page of a lane costs only the records on it, and is reported" * doctest::timeout(90)) {
  actor_scope scope;
  temp_dir dir;
  auto numbers = scope.spawn<trust::Numbers>("numbers");
  const std::string gate = dir.file("open");
  numbers.send(trust::Gate{gate});  // holds everything below in the lane
  // Enough that the newest of the lane's doublings holds over 12 KiB of
  // them (records of small messages take a cache line each).
  constexpr std::uint64_t sent = 3000;
  for (std::uint64_t n = 0; n < sent; ++n) numbers.send(trust::Seq{n});

  // The supervisor's lane into the actor's mailbox, as it is now: damage
  // 4 KiB of it that the actor has not read yet.
  detail::mailbox* box = shm().mailbox_at(shm().slot(numbers.slot()).mailbox);
  REQUIRE(box != nullptr);
  detail::lane* l = detail::newest_lane(shm(), shm().lane_at(box->lane_offset[detail::supervisor_slot].load()),
                                        detail::supervisor_slot);
  REQUIRE(l != nullptr);
  const std::uint64_t head = l->head.load();
  const std::uint64_t tail = l->tail.load();
  REQUIRE(tail - head >= 3 * 4096);
  const std::uint64_t from = (head + 4096) % l->capacity;
  REQUIRE(from + 4096 <= l->capacity);
  std::memset(detail::lane_data(l) + from, 0xA5, 4096);
  const auto before = runtime().corruptions();

  itest::append_line(gate, "open");
  const auto seen = numbers.ask<std::vector<std::uint64_t>>(trust::Seen{}, 60s).get();
  const std::uint64_t lost = sent - seen.size();
  // The fewest ring bytes a record of one uint64 takes (it may be padded to
  // the end of its cache line), so the most records 4096 bytes can hold.
  const std::uint64_t record = detail::record_size_for(sizeof(std::uint64_t));
  MESSAGE("4096 damaged bytes cost " << lost << " of " << sent << " messages (records of at least " << record
                                     << " bytes)");
  CHECK(lost > 0);
  CHECK(lost <= 4096 / record + 2);
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] > seen[i - 1]);
  CHECK(runtime().corruptions() > before);
  CHECK(runtime().info(numbers).dead_letters > 0);
}

TEST_CASE("a producer killed between making a larger lane and linking it: its next incarnation links it" *
          doctest::timeout(30)) {
  // The run's arena, with a mailbox and lanes of a sender slot no actor uses.
  const auto box_offset = shm().make_mailbox(detail::max_slots - 1, 1 << 16);
  REQUIRE(box_offset);
  detail::mailbox* box = shm().mailbox_at(*box_offset);
  const std::uint32_t sender = detail::max_slots - 2;
  std::string problem;
  const auto first = detail::ensure_lane(shm(), box, sender, problem);
  REQUIRE(first);
  detail::lane* old = shm().lane_at(*first);
  detail::lane_writer writer(old);
  while (std::byte* at = writer.reserve(64)) {
    std::memset(at, 0, 56);
    writer.publish();
  }
  const auto bigger = shm().allocate(sizeof(detail::lane) + 2 * old->capacity);
  REQUIRE(bigger);
  detail::lane_create(shm().at<std::byte>(*bigger), 2 * old->capacity, sender);
  // The dead producer got this far: next_lane stored, no marker published.
  old->next_lane.store(*bigger);
  const std::uint64_t tail = old->tail.load();

  CHECK(detail::newest_lane(shm(), old, sender) == shm().lane_at(*bigger));
  CHECK(old->tail.load() == tail + detail::link_size);
  // The consumer drains the old lane and reaches the link.
  detail::read_result r{};
  while ((r = detail::lane_peek(old)).status == detail::read_status::record) detail::lane_commit(old, r.next);
  CHECK(r.status == detail::read_status::link);
  // Asked again, it does not link twice.
  CHECK(detail::newest_lane(shm(), old, sender) == shm().lane_at(*bigger));
  CHECK(old->tail.load() == tail + detail::link_size);
}

// A new segment reads as zeros and the arena never hands out the same bytes
// twice, so neither the header nor a mailbox is written field by field when
// it is made (runtime/arena.cpp): a mailbox made late in a run, next to
// bytes that were written all over, must still be open and empty, and the
// slots no actor has taken must still be blank.
TEST_CASE("what the run's shared memory hands out reads as new: a late mailbox is open and empty, untaken slots are blank" *
          doctest::timeout(30)) {
  const auto scribbled = shm().allocate(3 * 4096);
  REQUIRE(scribbled);
  std::memset(shm().at<std::byte>(*scribbled, 3 * 4096), 0xA5, 3 * 4096);
  const std::uint32_t owner = detail::max_slots - 3;
  const auto offset = shm().make_mailbox(owner, 1000);
  REQUIRE(offset);
  CHECK(*offset >= *scribbled + 3 * 4096);
  const detail::mailbox* box = shm().mailbox_at(*offset);
  REQUIRE(box != nullptr);
  CHECK(box->owner == owner);
  CHECK(box->lane_capacity == 1000);
  CHECK(box->closed.load() == detail::mailbox_open);
  CHECK(box->wake_seq.load() == 0);
  CHECK(box->parked.load() == 0);
  CHECK(box->wake_pending.load() == 0);
  CHECK(box->lanes_seq.load() == 0);
  CHECK(std::all_of(std::begin(box->lane_bits), std::end(box->lane_bits), [](const auto& w) { return w.load() == 0; }));
  CHECK(std::all_of(std::begin(box->lane_offset), std::end(box->lane_offset), [](const auto& w) { return w.load() == 0; }));

  const detail::arena_header& header = *shm().header();
  const std::uint32_t in_use = header.slot_count.load();
  INFO("slots in use: ", in_use);
  static const detail::slot_entry blank{};
  std::uint32_t blank_slots = 0;
  for (std::uint32_t s = in_use; s < detail::max_slots; ++s) {
    if (std::memcmp(&header.slots[s], &blank, sizeof blank) == 0) ++blank_slots;
  }
  CHECK(blank_slots == detail::max_slots - in_use);
}

// The fork server's spares page in the addresses listed in the arena header
// (runtime/warm_start.hpp): shared memory, so anything may be written there.
// A spare touches only addresses in private mappings of its own, and writes
// only to writable ones: the list below would otherwise crash it (unmapped,
// read-only) or race the run's shared memory (its own mapping of the arena).
TEST_CASE("a damaged list of warm pages costs nothing: spares touch only their own private pages" *
          doctest::timeout(90)) {
  if (!runtime().options().fork_server || std::getenv("PROCACTOR_SPAWN") != nullptr) {
    MESSAGE("actors start with exec in this run: no spares");
    return;
  }
  actor_scope scope;
  auto numbers = scope.spawn<trust::Numbers>("warm");
  REQUIRE(numbers.ask<int>(trust::Ask{}, 30s).get() > 0);
  detail::arena_header& header = *shm().header();
  // The run's first forked actor published its pages after its first message.
  REQUIRE(eventually([&] { return header.warm_count.load() != 0; }));

  auto spares_now = [] {
    std::vector<int> found;
    for (const auto& child : probe::children_of(static_cast<int>(::getpid()))) {
      if (child.command == "procactor-spare" && child.state != 'Z') found.push_back(child.pid);
    }
    return found;
  };
  std::vector<int> spares;
  REQUIRE(eventually([&] { return (spares = spares_now()).size() == 2; }));
  // Where a spare (a fork of the server, as every later spare) maps what.
  std::uint64_t arena_at = 0;
  std::uint64_t code_at = 0;
  std::uint64_t stack_at = 0;
  {
    std::ifstream maps("/proc/" + std::to_string(spares.front()) + "/maps");
    for (std::string line; std::getline(maps, line);) {
      const std::uint64_t begin = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      if (line.find(shm().name()) != std::string::npos && arena_at == 0) arena_at = begin;
      if (line.find(" r-xp ") != std::string::npos && line.find("libc.so") != std::string::npos) code_at = begin;
      if (line.find("[stack]") != std::string::npos) stack_at = begin;
    }
  }
  REQUIRE(arena_at != 0);
  const std::uint64_t written = 1;
  const std::uint64_t damaged[] = {arena_at | written,           // the run's shared memory, as written
                                   code_at | written,            // read-only code, as written
                                   stack_at | written,           // the stack
                                   0x10 | written,               // nothing
                                   0xffffffffff600000 | written,  // not user space
                                   arena_at};                    // shared, as read
  std::memcpy(header.warm_pages, damaged, sizeof damaged);
  header.warm_count.store(static_cast<std::uint32_t>(std::size(damaged)));
  const auto magic = header.magic;

  // The spares made from now on read the damaged list: kill the two that
  // warmed already, let a start reap them, and wait for the new two to be
  // asleep on their sockets, done with the list.
  for (int spare : spares) REQUIRE(::kill(spare, SIGKILL) == 0);
  for (int spare : spares) REQUIRE(eventually([&] { return probe::status_of(spare).state == 'Z'; }));
  auto helper = scope.spawn<trust::Numbers>("warm-helper");
  REQUIRE(helper.ask<int>(trust::Ask{}, 30s).get() > 0);
  std::vector<int> fresh;
  REQUIRE(eventually([&] {
    fresh = spares_now();
    if (fresh.size() != 2) return false;
    for (int pid : fresh) {
      if (probe::status_of(pid).state != 'S') return false;
    }
    return true;
  }));
  for (int pid : fresh) CHECK(probe::is_running(pid));

  // A restart is served by one of them.
  const int before = numbers.ask<int>(trust::Ask{}, 30s).get();
  REQUIRE(::kill(before, SIGKILL) == 0);
  int after = before;
  REQUIRE(eventually([&] {
    try {
      after = numbers.ask<int>(trust::Ask{}, 2s).get();
    } catch (const procactor::error&) {
    }
    return after != before;
  }));
  CHECK(std::find(fresh.begin(), fresh.end(), after) != fresh.end());
  CHECK(header.magic == magic);
}

}  // TEST_SUITE
