// Message registration: a stable name gives each message type its wire id.
//
//   struct Add { int a, b; template <class A> void serialize(A& ar) { ar(a, b); } };
//   PROCACTOR_MESSAGE(Add);          // at global scope, after the type
//
// The id is the 64-bit FNV-1a hash of the name as written, never typeid: two
// builds of different programs agree on it, which lets a plugin and the
// executable that loads it exchange messages.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace procactor {

using type_id = std::uint64_t;

constexpr type_id fnv1a64(std::string_view text) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Specialised by PROCACTOR_MESSAGE; the primary template is left undefined so
// that sending an unregistered type fails to compile.
template <class T>
struct message_traits;

template <class T>
concept registered_message = requires {
  { message_traits<std::remove_cvref_t<T>>::id } -> std::convertible_to<type_id>;
};

namespace detail {
// Records id -> name for logs and dead letters; aborts on an id collision
// between two different names, which would otherwise misroute silently.
bool register_message_name(type_id id, std::string_view name) noexcept;
}  // namespace detail

// The registered name of a wire id, or "" when this process does not know it.
std::string_view message_name(type_id id) noexcept;

}  // namespace procactor

#define PROCACTOR_DETAIL_CAT2(a, b) a##b
#define PROCACTOR_DETAIL_CAT(a, b) PROCACTOR_DETAIL_CAT2(a, b)

#define PROCACTOR_MESSAGE(...)                                                       \
  template <>                                                                        \
  struct procactor::message_traits<__VA_ARGS__> {                                    \
    static constexpr std::string_view name = #__VA_ARGS__;                           \
    static constexpr ::procactor::type_id id = ::procactor::fnv1a64(#__VA_ARGS__);   \
  };                                                                                 \
  namespace {                                                                        \
  [[maybe_unused]] const bool PROCACTOR_DETAIL_CAT(procactor_message_, __COUNTER__) = \
      ::procactor::detail::register_message_name(                                    \
          ::procactor::message_traits<__VA_ARGS__>::id,                              \
          ::procactor::message_traits<__VA_ARGS__>::name);                           \
  }                                                                                  \
  static_assert(true, "")
