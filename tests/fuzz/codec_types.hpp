// The message types fuzz-codec decodes and the seed generator encodes: one
// of each shape cereal has a loader for that a message is likely to use
// (strings, vectors of scalars and of structs, nested containers, maps,
// optional, variant, tuple, ActorRef).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <procactor/actor_ref.hpp>
#include <procactor/codec.hpp>
#include <procactor/message.hpp>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace fuzzmsg {

struct Text {
  std::string value;
  template <class A>
  void serialize(A& a) {
    a(value);
  }
};

struct Numbers {
  std::vector<std::int64_t> ints;
  std::vector<double> reals;
  std::vector<bool> flags;
  std::array<std::uint16_t, 3> triple{};
  template <class A>
  void serialize(A& a) {
    a(ints, reals, flags, triple);
  }
};

struct Inner {
  std::string name;
  std::vector<std::uint32_t> values;
  std::optional<std::string> note;
  bool operator==(const Inner&) const = default;
  template <class A>
  void serialize(A& a) {
    a(name, values, note);
  }
};

struct Nested {
  std::vector<Inner> items;
  std::pair<std::int32_t, Inner> head;
  std::vector<std::vector<std::string>> table;
  template <class A>
  void serialize(A& a) {
    a(items, head, table);
  }
};

// Compared by value after a round trip: an unordered_map's encoding order
// depends on its buckets, so its bytes need not repeat.
struct Maps {
  std::map<std::string, std::int64_t> counts;
  std::map<std::uint32_t, Inner> by_id;
  std::unordered_map<std::string, std::vector<std::uint8_t>> blobs;
  bool operator==(const Maps&) const = default;
  template <class A>
  void serialize(A& a) {
    a(counts, by_id, blobs);
  }
};

struct Refs {
  procactor::ActorRef to;
  std::vector<procactor::ActorRef> peers;
  std::optional<procactor::ActorRef> reply_to;
  std::optional<std::int32_t> maybe;
  template <class A>
  void serialize(A& a) {
    a(to, peers, reply_to, maybe);
  }
};

struct Choice {
  std::variant<std::int64_t, std::string, Inner> value;
  std::tuple<std::uint8_t, std::string, double> tail;
  template <class A>
  void serialize(A& a) {
    a(value, tail);
  }
};

}  // namespace fuzzmsg

PROCACTOR_MESSAGE(fuzzmsg::Text);
PROCACTOR_MESSAGE(fuzzmsg::Numbers);
PROCACTOR_MESSAGE(fuzzmsg::Nested);
PROCACTOR_MESSAGE(fuzzmsg::Maps);
PROCACTOR_MESSAGE(fuzzmsg::Refs);
PROCACTOR_MESSAGE(fuzzmsg::Choice);

namespace fuzzmsg {
// fuzz-codec input: one byte picks the type (its value mod type_count, in
// the order above), the rest is the payload.
inline constexpr std::uint8_t type_count = 6;
}  // namespace fuzzmsg
