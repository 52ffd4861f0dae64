// Options::max_message_size: a larger message is refused at the sender, with
// an error that names the limit; one under it goes through. And
// Options::dead_letters_kept, dead_letter_bytes_kept: the newest dead letters
// are kept, every one is counted.
#include "payload.hpp"
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

}  // namespace limited
PROCACTOR_ACTOR(limited::Checksummer);

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
