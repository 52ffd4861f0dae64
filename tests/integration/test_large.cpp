// Large messages: 64 MiB arrives intact (it travels as a blob segment), and
// the blob is gone once the message is handled.
#include <algorithm>

#include "payload.hpp"
#include "probe.hpp"
#include "support.hpp"

PROCACTOR_MESSAGE(payload::Bytes);

namespace large {

class Checksummer : public procactor::Actor<Checksummer, payload::Bytes> {
 public:
  payload::Digest on(const payload::Bytes& bytes) { return payload::digest_of(bytes.data); }
};

}  // namespace large
PROCACTOR_ACTOR(large::Checksummer);

using namespace itest;

TEST_SUITE("large messages") {

TEST_CASE("a 64 MiB message arrives intact and its blob segment is removed after it is handled" *
          doctest::timeout(120)) {
  actor_scope scope;
  auto checksummer = scope.spawn<large::Checksummer>("checksummer");
  const auto data = payload::pattern(std::size_t{64} << 20, 1);
  const auto expected = payload::digest_of(data);

  CHECK(checksummer.ask<payload::Digest>(payload::Bytes{data}, 60s).get() == expected);
  // A plain send of the same size, then an ask behind it on the same lane.
  checksummer.send(payload::Bytes{payload::pattern(std::size_t{64} << 20, 2)});
  CHECK(checksummer.ask<payload::Digest>(payload::Bytes{{1, 2, 3}}, 60s).get() ==
        payload::digest_of({1, 2, 3}));

  // The arena is "procactor-<pid>-<hex>" and stays while the run lasts; a
  // blob is "<arena>-b<n>", one dash more (the hex itself may start with b).
  const auto is_blob = [](const std::string& name) { return std::count(name.begin(), name.end(), '-') == 3; };
  CHECK(eventually([&] {
    const auto segments = probe::run_segments(::getpid());
    return std::none_of(segments.begin(), segments.end(), is_blob);
  }));
}

}  // TEST_SUITE
