// Options::max_message_size: a larger message is refused at the sender, with
// an error that names the limit; one under it goes through. And
// Options::dead_letters_kept, dead_letter_bytes_kept: the newest dead letters
// are kept, every one is counted.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>

#include "payload.hpp"
#include "probe.hpp"
#include "support.hpp"

PROCACTOR_MESSAGE(payload::Bytes);

namespace limited {
// What no actor here handles: a dead letter, its size telling which.
struct Unhandled {
  std::string filler;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(filler);
  }
};
}  // namespace limited
PROCACTOR_MESSAGE(limited::Unhandled);

namespace limited {

class Checksummer : public procactor::Actor<Checksummer, payload::Bytes> {
 public:
  payload::Digest on(const payload::Bytes& bytes) { return payload::digest_of(bytes.data); }
};

std::size_t length_of(const std::string& text) { return text.size(); }

}  // namespace limited
PROCACTOR_ACTOR(limited::Checksummer);

namespace limited {
// Held: the handler returns once the file at `path` exists.
struct HoldUntil {
  std::string path;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(path);
  }
};
// Each byte says which message it belongs to.
struct Stamped {
  std::uint64_t n = 0;
  std::vector<std::uint8_t> bytes;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n, bytes);
  }
};
struct Tally {
  std::uint64_t received = 0;
  std::uint64_t damaged = 0;
  std::uint64_t out_of_order = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(received, damaged, out_of_order);
  }
};
}  // namespace limited
PROCACTOR_MESSAGE(limited::HoldUntil);
PROCACTOR_MESSAGE(limited::Stamped);
PROCACTOR_MESSAGE(limited::Tally);

namespace limited {
// Checks each Stamped, and their order; can be held in a handler.
class HeldChecker : public procactor::Actor<HeldChecker, HoldUntil, Stamped, Tally> {
 public:
  void on(const HoldUntil& h) {
    while (!std::filesystem::exists(h.path)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void on(const Stamped& m) {
    if (m.n != tally_.received) ++tally_.out_of_order;
    ++tally_.received;
    if (std::any_of(m.bytes.begin(), m.bytes.end(),
                    [&](std::uint8_t b) { return b != static_cast<std::uint8_t>(m.n); })) {
      ++tally_.damaged;
    }
  }
  Tally on(const Tally&) { return tally_; }

 private:
  Tally tally_;
};
}  // namespace limited
PROCACTOR_ACTOR(limited::HeldChecker);
PROCACTOR_FUNCTION(limited::length_of);

using namespace itest;
using procactor::errc;

TEST_CASE("a message over max_message_size is refused at send with errc::too_large naming the limit" *
          doctest::timeout(60)) {
  REQUIRE(runtime().options().max_message_size == std::size_t{1} << 20);
  actor_scope scope;
  auto checksummer = scope.spawn<limited::Checksummer>("checksummer");
  const payload::Bytes big{payload::pattern(std::size_t{2} << 20, 3)};

  try {
    checksummer.send(big);
    FAIL("a 2 MiB send under a 1 MiB limit returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::too_large);
    CHECK(e.message().find("1048576") != std::string::npos);
    CHECK(e.message().find("max_message_size") != std::string::npos);
  }
  CHECK(checksummer.try_send(big) == errc::too_large);
  try {
    (void)checksummer.ask<payload::Digest>(big, 10s).get();
    FAIL("a 2 MiB ask under a 1 MiB limit returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::too_large);
    // As a send's: the size and the limit, not only "could not be sent".
    CHECK(e.message().find(" bytes exceeds the limit of 1048576 bytes") != std::string::npos);
    CHECK(e.message().find("1048576") != std::string::npos);
    CHECK(e.message().find("max_message_size") != std::string::npos);
  }

  // Under the limit (and over a lane's inline maximum, so a blob): delivered.
  const payload::Bytes fits{payload::pattern(std::size_t{1} << 19, 4)};
  CHECK(checksummer.ask<payload::Digest>(fits, 30s).get() == payload::digest_of(fits.data));
  // Counted when committed, which is just after the reply went out.
  CHECK(eventually([&] { return runtime().info(checksummer).processed == 1; }));
}

TEST_CASE("a pool task over max_message_size fails errc::too_large as a submit naming the limit and the pool goes on" *
          doctest::timeout(60)) {
  procactor::Worker worker(runtime());
  try {
    (void)worker.submit(limited::length_of, std::string(std::size_t{2} << 20, 'z')).get();
    FAIL("a 2 MiB task under a 1 MiB limit returned");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::too_large);
    // The call that was made, not the worker's ask of it.
    CHECK_MESSAGE(e.message().starts_with("submit failed: the task"), e.message());
    CHECK(e.message().find("over the limit of 1048576 bytes (Options::max_message_size)") != std::string::npos);
  }
  CHECK(worker.submit(limited::length_of, std::string(std::size_t{1} << 19, 'z')).get() == std::size_t{1} << 19);
}

// A large message travels in a shared-memory segment of its own, with a
// small record in the lane. A sender's waiting in one mailbox take at most
// max_message_size bytes (two may always wait). They took any amount: with
// the handler held, try_send took every one of 200 messages, and each left
// its segment in /dev/shm (a sender could fill the tmpfs of every run on
// the host).
TEST_CASE("a sender's large messages waiting in a held mailbox take at most max_message_size bytes of shared memory" *
          doctest::timeout(120)) {
  REQUIRE(runtime().options().max_message_size == std::size_t{1} << 20);
  actor_scope scope;
  temp_dir dir;
  procactor::SpawnOptions options;
  options.restart = procactor::Restart::temporary;
  auto checker = scope.spawn<limited::HeldChecker>("held", options);
  const std::string go = dir.path() + "/go";
  checker.send(limited::HoldUntil{go});
  // 300 KiB: over half of a 256 KiB lane, so each is a segment of its own.
  const auto stamped = [](std::uint64_t n) {
    return limited::Stamped{n, std::vector<std::uint8_t>(300 << 10, static_cast<std::uint8_t>(n))};
  };
  const auto blobs = [] {
    const auto segments = probe::run_segments(::getpid());
    return std::count_if(segments.begin(), segments.end(),
                         [](const std::string& name) { return std::count(name.begin(), name.end(), '-') == 3; });
  };

  // Three fit in 1 MiB; a fourth would pass it.
  const std::uint64_t before = runtime().shared_memory_used();
  std::uint64_t accepted = 0;
  errc last = errc::ok;
  while (accepted < 200 && (last = checker.try_send(stamped(accepted))) == errc::ok) ++accepted;
  CHECK(last == errc::full);
  CHECK(accepted == 3);
  CHECK(blobs() == 3);
  // What the run holds counts them (a lane may have grown too).
  const std::uint64_t held = runtime().shared_memory_used();
  CHECK(held >= before + 3 * (std::uint64_t{300} << 10));
  try {
    checker.send(stamped(accepted), 100ms);
    FAIL("a send of a large message past max_message_size of them returned while the consumer was held");
  } catch (const procactor::error& e) {
    CHECK(e.code() == errc::timeout);
  }
  CHECK(blobs() == 3);  // the one that timed out left no segment
  // A small message still goes in while a send of a large one waits (the
  // thread is parked by then in most runs; it held the lane's lock while it
  // was).
  auto waiting = std::async(std::launch::async, [&] { checker.send(stamped(accepted), 60s); });
  CHECK(checker.try_send(limited::Tally{}) == errc::ok);

  // Let go: the waiting send and those after it go in as room is made, and
  // every message arrives whole and in order.
  { std::ofstream(go).put('1'); }
  waiting.get();
  for (std::uint64_t n = accepted + 1; n < accepted + 20; ++n) checker.send(stamped(n), 30s);
  const auto tally = checker.ask<limited::Tally>(limited::Tally{}, 60s).get();
  CHECK(tally.received == accepted + 20);
  CHECK(tally.damaged == 0);
  CHECK(tally.out_of_order == 0);
  CHECK(eventually([&] { return blobs() == 0; }));
  CHECK(runtime().shared_memory_used() < held);  // they are gone from it too
}

TEST_CASE("the run keeps the newest dead letters up to dead_letters_kept and counts every one" * doctest::timeout(90)) {
  REQUIRE(runtime().options().dead_letters_kept == 50);
  actor_scope scope;
  // Untyped: a TypedRef<Checksummer> would not compile the sends.
  const procactor::ActorRef checksummer = scope.spawn<limited::Checksummer>("letters");
  constexpr std::size_t sent = 200;
  for (std::size_t i = 1; i <= sent; ++i) checksummer.send(limited::Unhandled{std::string(i, 'x')});
  checksummer.close();
  REQUIRE(checksummer.join(60s));
  CHECK(runtime().info(checksummer).dead_letters == sent);
  const auto kept = dead_letters_of(checksummer.name());
  REQUIRE(kept.size() == 50);
  // The newest, oldest first: each one byte longer than the one before, the
  // last the last one sent.
  for (std::size_t i = 1; i < kept.size(); ++i) CHECK(kept[i].payload.size() == kept[i - 1].payload.size() + 1);
  // (A payload is the filler and a few bytes of its length.)
  CHECK(kept.back().payload.size() >= sent);
  CHECK(kept.back().payload.size() < sent + 16);
}

TEST_CASE("the run keeps no more dead letters' bytes than dead_letter_bytes_kept" * doctest::timeout(90)) {
  REQUIRE(runtime().options().dead_letter_bytes_kept == std::size_t{1} << 20);
  actor_scope scope;
  const procactor::ActorRef checksummer = scope.spawn<limited::Checksummer>("big-letters");
  for (int i = 0; i < 3; ++i) checksummer.send(limited::Unhandled{std::string(std::size_t{600} << 10, 'y')});
  checksummer.close();
  REQUIRE(checksummer.join(60s));
  CHECK(runtime().info(checksummer).dead_letters == 3);
  std::size_t bytes = 0;
  for (const auto& letter : runtime().dead_letters()) bytes += letter.payload.size();
  CHECK(bytes <= std::size_t{1} << 20);
  const auto kept = dead_letters_of(checksummer.name());
  CHECK(kept.size() == 1);
}
