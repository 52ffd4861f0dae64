#include "names.hpp"

#include <algorithm>

namespace procactor::launcher {

namespace {

bool is_identifier_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_identifier_char(char c) noexcept {
  return is_identifier_start(c) || (c >= '0' && c <= '9');
}

}  // namespace

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_name_length || !is_identifier_start(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return is_identifier_char(c) || c == '-'; });
}

bool is_valid_type(std::string_view type) noexcept {
  std::size_t segments = 0;
  std::size_t start = 0;
  while (start <= type.size()) {
    const std::size_t dot = std::min(type.find('.', start), type.size());
    const std::string_view segment = type.substr(start, dot - start);
    if (segment.empty() || !is_identifier_start(segment.front()) ||
        !std::all_of(segment.begin(), segment.end(), is_identifier_char)) {
      return false;
    }
    ++segments;
    start = dot + 1;
  }
  return segments >= 2;
}

}  // namespace procactor::launcher
