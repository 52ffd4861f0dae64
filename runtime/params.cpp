#include "procactor/params.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace procactor {
namespace {

// 20000000, 0.5, 1e+300: a whole number whole, as the graph file wrote it.
std::string number_text(double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e15) return std::to_string(static_cast<long long>(value));
  std::ostringstream text;
  text << value;
  return text.str();
}

// The numbers of a value, one for a number, each for a list of them; none
// for the other kinds.
std::vector<double> numbers_of(const ParamValue& value) {
  std::vector<double> out;
  if (const auto* i = std::get_if<std::int64_t>(&value)) out.push_back(static_cast<double>(*i));
  if (const auto* d = std::get_if<double>(&value)) out.push_back(*d);
  if (const auto* is = std::get_if<std::vector<std::int64_t>>(&value)) {
    for (const std::int64_t i : *is) out.push_back(static_cast<double>(i));
  }
  if (const auto* ds = std::get_if<std::vector<double>>(&value)) out.assign(ds->begin(), ds->end());
  return out;
}

}  // namespace

std::string_view describe(ParamKind kind) noexcept {
  switch (kind) {
    case ParamKind::integer: return "an integer";
    case ParamKind::floating: return "a float";
    case ParamKind::boolean: return "a boolean";
    case ParamKind::string: return "a string";
    case ParamKind::integer_list: return "an array of integers";
    case ParamKind::floating_list: return "an array of floats";
    case ParamKind::string_list: return "an array of strings";
    case ParamKind::boolean_list: return "an array of booleans";
  }
  return "a value";
}

std::string param_problem(const ParamSpec& spec, const ParamValue& value) {
  if (kind_of(value) != spec.kind) {
    return "must be " + std::string(describe(spec.kind)) + ", not " + std::string(describe(kind_of(value)));
  }
  const bool list = spec.kind == ParamKind::integer_list || spec.kind == ParamKind::floating_list;
  for (const double number : numbers_of(value)) {
    const bool low = spec.minimum && (std::isnan(number) || number < *spec.minimum);
    const bool high = spec.maximum && (std::isnan(number) || number > *spec.maximum);
    if (!low && !high) continue;
    std::string bounds = spec.minimum && spec.maximum
                             ? "from " + number_text(*spec.minimum) + " to " + number_text(*spec.maximum)
                         : spec.minimum ? "at least " + number_text(*spec.minimum)
                                        : "at most " + number_text(*spec.maximum);
    return std::string(list ? "must hold numbers " : "must be ") + bounds + ", not " + number_text(number);
  }
  return {};
}

}  // namespace procactor
