// procactor::Params — the typed parameters an actor is spawned with
// (`params = { from = 2, to = 100 }` in a graph file, or SpawnOptions::params).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "error.hpp"

namespace procactor {

// Lists are homogeneous: an actor asks for "a list of strings", never for a
// list of anything. New alternatives go at the end, so that the variant's
// index of the others (which is what the codec writes) never changes.
using ParamValue = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>,
                                std::vector<double>, std::vector<std::string>, std::vector<bool>>;

// What an actor type expects, declared as a static member of the actor:
//   static std::vector<procactor::ParamSpec> parameters() { return {{"path", ParamKind::string}}; }
// The launcher checks a graph file's params against it before starting anything.
// Listed in ParamValue's order: kind_of() is the variant's index.
enum class ParamKind : std::uint8_t {
  integer, floating, boolean, string, integer_list, floating_list, string_list, boolean_list
};

// The kind of a value, as a ParamSpec names it.
[[nodiscard]] inline ParamKind kind_of(const ParamValue& value) noexcept {
  static_assert(std::variant_size_v<ParamValue> == static_cast<std::size_t>(ParamKind::boolean_list) + 1);
  static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(ParamKind::boolean_list), ParamValue>,
                               std::vector<bool>>);
  static_assert(std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(ParamKind::string_list), ParamValue>,
                               std::vector<std::string>>);
  return static_cast<ParamKind>(value.index());
}

// `minimum` and `maximum` bound a number, or each number of a list (unset:
// any); `procactor validate` and Runtime::spawn refuse a value outside:
//   {"chunk", ParamKind::integer, false, 1}   // optional, at least 1
struct ParamSpec {
  std::string name;
  ParamKind kind = ParamKind::string;
  bool required = true;
  std::optional<double> minimum = std::nullopt;
  std::optional<double> maximum = std::nullopt;
};

// "an integer", "an array of strings", ...
[[nodiscard]] std::string_view describe(ParamKind kind) noexcept;

// What is wrong with `value` as the parameter `spec` declares, as the end of
// a sentence ("must be an integer, not a string"; "must be at least 1, not
// 0"); empty when nothing is.
[[nodiscard]] std::string param_problem(const ParamSpec& spec, const ParamValue& value);

class Params {
 public:
  Params() = default;

  Params& set(std::string key, ParamValue value) {
    values_[std::move(key)] = std::move(value);
    return *this;
  }
  [[nodiscard]] bool contains(std::string_view key) const {
    return values_.find(std::string(key)) != values_.end();
  }
  [[nodiscard]] const std::map<std::string, ParamValue>& values() const noexcept { return values_; }

  // The value of `key` as T; an error names the key when it is missing or of
  // another type. An integer is accepted where a double is asked for.
  template <class T>
  [[nodiscard]] T get(std::string_view key) const {
    auto it = values_.find(std::string(key));
    if (it == values_.end()) {
      throw error(errc::decode_failed, "missing parameter '" + std::string(key) + "'");
    }
    if constexpr (std::is_same_v<T, double>) {
      if (auto* integer = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*integer);
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (auto* integer = std::get_if<std::int64_t>(&it->second)) return static_cast<T>(*integer);
    } else {
      if (auto* value = std::get_if<T>(&it->second)) return *value;
    }
    throw error(errc::decode_failed, "parameter '" + std::string(key) + "' has the wrong type");
  }
  template <class T>
  [[nodiscard]] T get_or(std::string_view key, T fallback) const {
    return contains(key) ? get<T>(key) : fallback;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(values_);
  }

 private:
  std::map<std::string, ParamValue> values_;
};

}  // namespace procactor
