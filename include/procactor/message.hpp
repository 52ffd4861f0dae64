// Message registration: a stable name gives each message type its wire id.
//
//   struct Add { int a, b; template <class A> void serialize(A& ar) { ar(a, b); } };
//   PROCACTOR_MESSAGE(Add);          // at global scope, after the type
//
// The id is the 64-bit FNV-1a hash of the name as written, never typeid: two
// builds of different programs agree on it, which lets a plugin and the
// executable that loads it exchange messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
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
// False for every T: a static_assert on it fires only where the template
// that holds it is used.
template <class T>
inline constexpr bool not_a_message = false;
}  // namespace detail

// The static_assert of a call given a type that is not a message.
#define PROCACTOR_NOT_A_MESSAGE(call)                                                             \
  static_assert(::procactor::detail::not_a_message<M>, call                                       \
                ": this type is not a registered message: put PROCACTOR_MESSAGE(Type) after its " \
                "definition, at global scope (the type also needs a serialize() member for cereal)")

namespace detail {
// Records id -> name for logs and dead letters; aborts on an id collision
// between two different names, which would otherwise misroute silently.
bool register_message_name(type_id id, std::string_view name) noexcept;
// The same, for a message type of `size` bytes (PROCACTOR_MESSAGE): a second
// registration of the name with another size, from another module, is a
// type defined twice in two ways (two plugins' `mine::Num`), which the
// runtime refuses (registration_conflicts) instead of decoding one as the
// other.
// `where` is an address in the registering module (the variable the
// registration initialises), which names it.
bool register_message(type_id id, std::string_view name, std::size_t size, const void* where) noexcept;
}  // namespace detail

// The registered name of a wire id, or "" when this process does not know it.
std::string_view message_name(type_id id) noexcept;

namespace detail {

// The name of T as the compiler spells it, at compile time.
template <class T>
constexpr std::string_view spelled_type_name() noexcept {
  constexpr std::string_view text = __PRETTY_FUNCTION__;  // "... [with T = int; ...]" or "[T = int]"
  constexpr auto start = text.find("T = ") + 4;
  constexpr auto end = text.find_first_of(";]", start);
  return text.substr(start, end - start);
}

template <class T>
struct is_char_string : std::false_type {};
template <class Traits, class Allocator>
struct is_char_string<std::basic_string<char, Traits, Allocator>> : std::true_type {};

// The name a reply's type travels under. Registered messages use their
// registered name; arithmetic types and std::string get names that do not
// depend on the compiler, so that a plugin built with another one agrees.
template <class T>
constexpr std::string_view reply_type_name() noexcept {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_void_v<U>) {
    return "void";
  } else if constexpr (registered_message<U>) {
    return message_traits<U>::name;
  } else if constexpr (std::is_same_v<U, bool>) {
    return "bool";
  } else if constexpr (std::is_floating_point_v<U>) {
    return sizeof(U) == 4 ? "float32" : sizeof(U) == 8 ? "float64" : "float128";
  } else if constexpr (std::is_integral_v<U>) {
    constexpr std::string_view names[2][4] = {{"uint8", "uint16", "uint32", "uint64"},
                                              {"int8", "int16", "int32", "int64"}};
    return names[std::is_signed_v<U> ? 1 : 0][sizeof(U) == 1 ? 0 : sizeof(U) == 2 ? 1 : sizeof(U) == 4 ? 2 : 3];
  } else if constexpr (is_char_string<U>::value) {
    return "string";
  } else {
    return spelled_type_name<U>();
  }
}

// The wire id of a reply of type T (0 is "no value": an error reply). Every
// instantiation registers its name at start-up, so an asker can name the
// type it got even when only the replier's code uses it.
template <class T>
inline const type_id reply_type_id = [] {
  constexpr auto name = reply_type_name<T>();
  register_message_name(fnv1a64(name), name);
  return fnv1a64(name);
}();

}  // namespace detail

}  // namespace procactor

#define PROCACTOR_DETAIL_CAT2(a, b) a##b
#define PROCACTOR_DETAIL_CAT(a, b) PROCACTOR_DETAIL_CAT2(a, b)

#define PROCACTOR_MESSAGE(...)                                                     \
  template <>                                                                      \
  struct procactor::message_traits<__VA_ARGS__> {                                  \
    static constexpr std::string_view name = #__VA_ARGS__;                         \
    static constexpr ::procactor::type_id id = ::procactor::fnv1a64(#__VA_ARGS__); \
  };                                                                               \
  PROCACTOR_DETAIL_REGISTER_MESSAGE(PROCACTOR_DETAIL_CAT(procactor_message_, __COUNTER__), __VA_ARGS__)

// The registration, initialising a variable of this module whose address
// says where the type comes from.
#define PROCACTOR_DETAIL_REGISTER_MESSAGE(variable, ...)                                            \
  namespace {                                                                                       \
  [[maybe_unused]] const bool variable = ::procactor::detail::register_message(                     \
      ::procactor::message_traits<__VA_ARGS__>::id, ::procactor::message_traits<__VA_ARGS__>::name, \
      sizeof(__VA_ARGS__), &variable);                                                              \
  }                                                                                                 \
  static_assert(true, "")
