// Options::max_message_size: a larger message is refused at the sender, with
// an error that names the limit; one under it goes through.
#include "payload.hpp"
#include "support.hpp"

PROCACTOR_MESSAGE(payload::Bytes);

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
