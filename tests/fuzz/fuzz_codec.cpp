// fuzz-codec: decoding a payload with the project's byte_input_archive, the
// way an actor does it (Message::get<T>), for arbitrary bytes. The decode
// must either give a value or throw procactor::error; anything else — a
// crash, a read past the payload, undefined behaviour, another exception, an
// allocation far beyond the payload's size (libFuzzer's -malloc_limit_mb,
// set by run.sh) — is a bug. A value that decodes must survive a round
// trip: encoded again and decoded again, it is the same value.
#include <cstring>
#include <procactor/actor.hpp>
#include <vector>

#include "codec_types.hpp"
#include "fuzz_support.hpp"

namespace {

template <class T>
std::vector<std::byte> encode(const T& value) {
  const auto bytes = procactor::detail::thread_encoder().encode(value);
  return {bytes.begin(), bytes.end()};
}

template <class T>
T get(std::span<const std::byte> payload) {
  const procactor::Message message(procactor::message_traits<T>::id, payload, 0, 0, 0);
  return message.get<T>();
}

template <class T>
void decode_one(std::span<const std::byte> payload) {
  T value;
  try {
    value = get<T>(payload);
  } catch (const procactor::error& e) {
    fuzz::require(e.code() == procactor::errc::decode_failed, "a decode error with another code");
    return;
  }
  const std::vector<std::byte> once = encode(value);
  const T again = get<T>(once);
  if constexpr (std::is_same_v<T, fuzzmsg::Maps>) {
    fuzz::require(again == value, "a decoded value changed in a round trip");
  } else {
    fuzz::require(encode(again) == once, "a decoded value changed in a round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // An exact-size copy: a read one byte past the payload is an ASan report.
  std::vector<std::byte> payload(size - 1);
  if (size > 1) std::memcpy(payload.data(), data + 1, size - 1);
  switch (data[0] % fuzzmsg::type_count) {
    case 0:
      decode_one<fuzzmsg::Text>(payload);
      break;
    case 1:
      decode_one<fuzzmsg::Numbers>(payload);
      break;
    case 2:
      decode_one<fuzzmsg::Nested>(payload);
      break;
    case 3:
      decode_one<fuzzmsg::Maps>(payload);
      break;
    case 4:
      decode_one<fuzzmsg::Refs>(payload);
      break;
    default:
      decode_one<fuzzmsg::Choice>(payload);
      break;
  }
  return 0;
}
