// The encoder's fast archive writes cereal's bytes: for every kind of field
// it takes itself and every kind it hands to cereal, the bytes equal those
// of cereal's own BinaryOutputArchive and of byte_output_archive, and they
// decode back.
#include <doctest/doctest.h>

#include <cereal/archives/binary.hpp>
#include <cereal/types/base_class.hpp>
#include <cereal/types/memory.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <procactor/codec.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fast {

enum class Colour : std::uint16_t { red = 3, green = 7 };

struct Inner {
  std::int32_t a = 0;
  std::string s;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(a, s);
  }
  bool operator==(const Inner&) const = default;
};

struct Split {  // member save and load
  double d = 0;
  template <class Archive>
  void save(Archive& archive) const {
    archive(d);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(d);
  }
  bool operator==(const Split&) const = default;
};

struct Versioned {  // a versioned serialize: cereal writes the version once
  std::uint64_t v = 0;
  template <class Archive>
  void serialize(Archive& archive, const std::uint32_t /*version*/) {
    archive(v);
  }
  bool operator==(const Versioned&) const = default;
};

struct Base {
  std::int8_t b = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(b);
  }
};
struct Derived : Base {
  float f = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::base_class<Base>(this), f);
  }
};

struct Everything {
  bool yes = false;
  char c = 0;
  std::uint64_t u = 0;
  double d = 0;
  Colour colour = Colour::red;
  std::string text;
  std::vector<double> numbers;
  std::vector<Inner> inners;
  std::vector<bool> bits;
  std::array<std::int16_t, 3> fixed{};
  std::array<Inner, 2> fixed_inners{};
  std::map<std::string, int> map;
  std::optional<Inner> maybe;
  std::shared_ptr<Inner> shared;
  std::shared_ptr<Inner> same_shared;  // the same object: cereal writes an id the second time
  Split split;
  Versioned versioned;
  Derived derived;
  std::tuple<std::int32_t, std::string, std::vector<Inner>> tuple;
  std::pair<Split, std::optional<std::int64_t>> pair;
  std::tuple<std::shared_ptr<Inner>, std::int8_t> tuple_shared;  // the same object again, inside a tuple
  std::tuple<> nothing;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(yes, c, u, d, colour, text, cereal::make_nvp("numbers", numbers), inners, bits, fixed, fixed_inners, map,
            maybe, shared, same_shared, split, versioned, derived, tuple, pair, tuple_shared, nothing);
  }
};

std::vector<std::byte> with_cereal(const Everything& value) {
  std::ostringstream stream;
  {
    cereal::BinaryOutputArchive archive(stream);
    archive(value);
  }
  const std::string bytes = stream.str();
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.data());
  return {begin, begin + bytes.size()};
}

Everything sample() {
  Everything e;
  e.yes = true;
  e.c = 'x';
  e.u = 0x0102030405060708ULL;
  e.d = -2.5;
  e.colour = Colour::green;
  e.text = "hello";
  e.numbers = {1.5, 2.5, 3.5};
  e.inners = {{1, "one"}, {2, "two"}};
  e.bits = {true, false, true, true};
  e.fixed = {-1, 0, 1};
  e.fixed_inners = {Inner{5, "five"}, Inner{6, ""}};
  e.map = {{"a", 1}, {"b", 2}};
  e.maybe = Inner{9, "nine"};
  e.shared = std::make_shared<Inner>(Inner{4, "four"});
  e.same_shared = e.shared;
  e.split.d = 0.25;
  e.versioned.v = 77;
  e.derived.b = -3;
  e.derived.f = 1.25F;
  e.tuple = {-7, "seven", {Inner{7, "vii"}}};
  e.pair = {Split{0.75}, std::int64_t{-8}};
  e.tuple_shared = {e.shared, std::int8_t{9}};
  return e;
}

}  // namespace fast

CEREAL_CLASS_VERSION(fast::Versioned, 3)

TEST_CASE("the fast archive writes the bytes cereal writes, for every kind of field") {
  const fast::Everything value = fast::sample();
  const auto reference = fast::with_cereal(value);

  procactor::detail::byte_buffer slow_buffer;
  {
    procactor::detail::byte_output_archive archive(slow_buffer);
    archive(value);
  }
  const auto fast_bytes = procactor::detail::thread_encoder().encode(value);
  const std::vector<std::byte> fast_copy(fast_bytes.begin(), fast_bytes.end());
  const auto slow = slow_buffer.bytes();
  CHECK(std::vector<std::byte>(slow.begin(), slow.end()) == reference);
  CHECK(fast_copy == reference);

  const auto back = procactor::detail::decode<fast::Everything>(fast_copy);
  CHECK(back.yes);
  CHECK(back.u == value.u);
  CHECK(back.colour == fast::Colour::green);
  CHECK(back.text == "hello");
  CHECK(back.numbers == value.numbers);
  CHECK(back.inners == value.inners);
  CHECK(back.bits == value.bits);
  CHECK(back.fixed == value.fixed);
  CHECK(back.fixed_inners == value.fixed_inners);
  CHECK(back.map == value.map);
  CHECK(back.maybe == value.maybe);
  REQUIRE(back.shared != nullptr);
  CHECK(back.shared == back.same_shared);
  CHECK(*back.shared == *value.shared);
  CHECK(back.split == value.split);
  CHECK(back.versioned == value.versioned);
  CHECK(back.derived.b == -3);
  CHECK(back.derived.f == 1.25F);
  CHECK(back.tuple == value.tuple);
  CHECK(back.pair == value.pair);
  CHECK(std::get<0>(back.tuple_shared) == back.shared);
  CHECK(std::get<1>(back.tuple_shared) == 9);
}

TEST_CASE("the fast archive and cereal agree on plain values, strings and vectors at the top level") {
  auto same = [](const auto&... values) {
    std::ostringstream stream;
    {
      cereal::BinaryOutputArchive archive(stream);
      archive(values...);
    }
    const std::string reference = stream.str();
    const auto bytes = procactor::detail::thread_encoder().encode(values...);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) == reference;
  };
  CHECK(same(std::int64_t{-5}));
  CHECK(same(true, false));
  CHECK(same(std::string()));
  CHECK(same(std::string("abc"), 3.0F));
  CHECK(same(std::vector<std::uint8_t>{}));
  CHECK(same(std::vector<std::string>{"a", "", "ccc"}));
  CHECK(same(std::vector<bool>{}));
  CHECK(same(fast::Colour::red));
  CHECK(same(std::tuple<std::uint64_t, std::tuple<std::int32_t, double>>{1, {2, 3.0}}));  // a task: id, arguments
  CHECK(same(std::pair<std::string, bool>{"p", true}));
}

TEST_CASE("every truncation of a message that mixes fast and cereal-handled fields fails to decode, none reads past its end") {
  const auto bytes = procactor::detail::thread_encoder().encode(fast::sample());
  const std::vector<std::byte> whole(bytes.begin(), bytes.end());
  for (std::size_t length = 0; length < whole.size(); ++length) {
    CAPTURE(length);
    const std::vector<std::byte> prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(length));
    CHECK_THROWS(procactor::detail::decode<fast::Everything>(prefix));
  }
  CHECK(procactor::detail::decode<fast::Everything>(whole).text == "hello");
}

TEST_CASE("a vector of structs after a cereal-handled field decodes from where cereal stopped") {
  // map (cereal) -> vector<Inner> (fast) -> optional (cereal) -> string (fast)
  const std::map<std::string, int> map{{"k", 1}};
  const std::vector<fast::Inner> inners{{1, "x"}, {2, "yy"}};
  const std::optional<std::int32_t> maybe = 5;
  const std::string tail = "end";
  const auto bytes = procactor::detail::thread_encoder().encode(map, inners, maybe, tail);
  const std::vector<std::byte> copy(bytes.begin(), bytes.end());
  std::map<std::string, int> map_back;
  std::vector<fast::Inner> inners_back;
  std::optional<std::int32_t> maybe_back;
  std::string tail_back;
  procactor::detail::fast_input_archive archive(copy);
  archive(map_back, inners_back, maybe_back, tail_back);
  CHECK(map_back == map);
  CHECK(inners_back == inners);
  CHECK(maybe_back == maybe);
  CHECK(tail_back == tail);
  CHECK(archive.remaining() == 0);
}
