#include <doctest/doctest.h>

#include <procactor/actor.hpp>
#include <procactor/codec.hpp>
#include <procactor/params.hpp>

namespace unit {
struct Point {
  int x = 0;
  int y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(x, y, label);
  }
};
}  // namespace unit
PROCACTOR_MESSAGE(unit::Point);

namespace unit {
// Two types of the same shape: their payloads decode as each other.
struct A {
  int a = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(a);
  }
};
struct C {
  int z = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(z);
  }
};
}  // namespace unit
PROCACTOR_MESSAGE(unit::A);
PROCACTOR_MESSAGE(unit::C);

TEST_CASE("a message decodes to what was encoded, with the encoder reused") {
  auto& encoder = procactor::detail::thread_encoder();
  for (int i = 0; i < 3; ++i) {
    auto bytes = encoder.encode(unit::Point{i, -i, "p" + std::to_string(i)});
    auto back = procactor::detail::decode<unit::Point>(bytes);
    CHECK(back.x == i);
    CHECK(back.y == -i);
    CHECK(back.label == "p" + std::to_string(i));
  }
}

TEST_CASE("a truncated payload fails to decode instead of reading past its end") {
  auto bytes = procactor::detail::thread_encoder().encode(unit::Point{1, 2, "a long enough label"});
  std::vector<std::byte> copy(bytes.begin(), bytes.end() - 5);
  CHECK_THROWS(procactor::detail::decode<unit::Point>(copy));
}

TEST_CASE("a message's registered name and id are stable") {
  CHECK(procactor::message_traits<unit::Point>::name == "unit::Point");
  CHECK(procactor::message_traits<unit::Point>::id == procactor::fnv1a64("unit::Point"));
  CHECK(procactor::message_name(procactor::fnv1a64("unit::Point")) == "unit::Point");
}

TEST_CASE("a Message view checks its type before decoding") {
  auto bytes = procactor::detail::thread_encoder().encode(unit::Point{4, 5, "m"});
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  procactor::Message message(procactor::message_traits<unit::Point>::id, copy, 0, 0, 0);
  CHECK(message.is<unit::Point>());
  CHECK(message.get<unit::Point>().y == 5);
  CHECK_FALSE(message.expects_reply());
  procactor::Message truncated(procactor::message_traits<unit::Point>::id, std::span(copy).first(3), 0, 0, 0);
  CHECK_THROWS_AS(truncated.get<unit::Point>(), procactor::error);
}

TEST_CASE("Message::get of another type than the message's throws decode_failed naming both") {
  auto bytes = procactor::detail::thread_encoder().encode(unit::A{42});
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  const procactor::Message message(procactor::message_traits<unit::A>::id, copy, 0, 0, 0);
  CHECK(message.get<unit::A>().a == 42);
  try {
    (void)message.get<unit::C>();
    FAIL("an A was read as a C");
  } catch (const procactor::error& e) {
    CHECK(e.code() == procactor::errc::decode_failed);
    CHECK(e.message() == "the message is a unit::A, not a unit::C");
  }
  // A type id this process does not know is named by its number.
  const procactor::Message stranger(12345, copy, 0, 0, 0);
  CHECK_THROWS_WITH_AS((void)stranger.get<unit::C>(),
                       "decode failed: the message is of unknown type id 12345, not a unit::C", procactor::error);
}

TEST_CASE("params give typed values and name the key that is wrong") {
  procactor::Params params;
  params.set("from", std::int64_t{2}).set("name", std::string("x")).set("ratio", 0.5);
  CHECK(params.get<int>("from") == 2);
  CHECK(params.get<double>("from") == 2.0);
  CHECK(params.get<std::string>("name") == "x");
  CHECK(params.get_or<std::int64_t>("absent", 9) == 9);
  try {
    (void)params.get<std::string>("from");
    FAIL("a mistyped parameter was accepted");
  } catch (const procactor::error& e) {
    CHECK(std::string(e.what()).find("'from'") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS((void)params.get<int>("to"), doctest::Contains("missing parameter 'to'"), procactor::error);
}

TEST_CASE("a bool byte other than 0 or 1 is refused, not copied into a bool") {
  std::vector<std::byte> bytes = {std::byte{4}};
  CHECK_THROWS_WITH_AS(procactor::detail::decode<bool>(bytes), doctest::Contains("bool encoded as 4"), std::exception);
  bytes[0] = std::byte{1};
  CHECK(procactor::detail::decode<bool>(bytes));
  // An optional's engaged flag is a bool too.
  bytes[0] = std::byte{2};
  CHECK_THROWS(procactor::detail::decode<std::optional<int>>(bytes));
}

TEST_CASE("empty vectors of scalars round-trip") {
  const std::vector<std::uint64_t> empty;
  auto bytes = procactor::detail::thread_encoder().encode(empty);
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  CHECK(procactor::detail::decode<std::vector<std::uint64_t>>(copy).empty());
}

TEST_CASE("a reply type's name does not depend on the compiler's spelling") {
  using procactor::detail::reply_type_name;
  CHECK(reply_type_name<int>() == "int32");
  CHECK(reply_type_name<const std::uint64_t&>() == "uint64");
  CHECK(reply_type_name<double>() == "float64");
  CHECK(reply_type_name<std::string>() == "string");
  CHECK(reply_type_name<void>() == "void");
  CHECK(reply_type_name<unit::Point>() == "unit::Point");
  CHECK(procactor::detail::reply_type_id<long> == procactor::detail::reply_type_id<long long>);
}

TEST_CASE("a vector's element count is refused when the bytes cannot hold it, before anything is allocated for it") {
  // A count of 2^20 Points followed by a handful of bytes.
  std::vector<std::byte> bytes(8 + 16, std::byte{0});
  const std::uint64_t count = std::uint64_t{1} << 20;
  std::memcpy(bytes.data(), &count, sizeof count);
  CHECK_THROWS(procactor::detail::decode<std::vector<unit::Point>>(bytes));
  CHECK_THROWS(procactor::detail::decode<std::vector<std::uint64_t>>(bytes));
  // And vectors of both kinds still round-trip.
  const std::vector<unit::Point> points{{1, 2, "a"}, {3, 4, "b"}};
  auto encoded = procactor::detail::thread_encoder().encode(points);
  std::vector<std::byte> copy(encoded.begin(), encoded.end());
  const auto decoded = procactor::detail::decode<std::vector<unit::Point>>(copy);
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[1].y == 4);
  CHECK(decoded[1].label == "b");
}

TEST_CASE("params with every kind of value, boolean lists included, round-trip through the codec") {
  procactor::Params params;
  params.set("flags", std::vector<bool>{true, false, true})
      .set("none", std::vector<bool>{})
      .set("names", std::vector<std::string>{"a", "b"})
      .set("n", std::int64_t{7});
  CHECK(procactor::kind_of(params.values().at("flags")) == procactor::ParamKind::boolean_list);
  CHECK(procactor::kind_of(params.values().at("names")) == procactor::ParamKind::string_list);
  auto bytes = procactor::detail::thread_encoder().encode(params);
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  const auto back = procactor::detail::decode<procactor::Params>(copy);
  CHECK(back.get<std::vector<bool>>("flags") == std::vector<bool>{true, false, true});
  CHECK(back.get<std::vector<bool>>("none").empty());
  CHECK(back.get<std::vector<std::string>>("names") == std::vector<std::string>{"a", "b"});
  CHECK(back.get<int>("n") == 7);
  // A boolean list's elements are bytes of 0 or 1, like a lone bool; and its
  // count is checked against the bytes left before anything is allocated.
  std::vector<std::byte> flags(8 + 2, std::byte{0});
  const std::uint64_t two = 2;
  std::memcpy(flags.data(), &two, sizeof two);
  flags[9] = std::byte{2};
  CHECK_THROWS(procactor::detail::decode<std::vector<bool>>(flags));
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(flags.data(), &huge, sizeof huge);
  CHECK_THROWS(procactor::detail::decode<std::vector<bool>>(flags));
}
