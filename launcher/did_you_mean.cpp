#include "did_you_mean.hpp"

#include <algorithm>
#include <vector>

namespace procactor::launcher {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows suffice: a swap looks two rows back.
  std::vector<std::size_t> before(b.size() + 1);
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

namespace {

template <class String>
std::optional<std::string> nearest(std::string_view word, std::span<const String> candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const String& candidate : candidates) {
    const std::string_view view(candidate);
    const std::size_t distance = edit_distance(word, view);
    if (distance == 0 || distance >= best_distance) {
      continue;
    }
    if (distance * 2 >= std::max(word.size(), view.size())) {
      continue;
    }
    best = std::string(view);
    best_distance = distance;
  }
  return best;
}

std::string phrase(const std::optional<std::string>& match) {
  return match ? " (did you mean '" + *match + "'?)" : std::string();
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  return nearest(word, candidates);
}

std::optional<std::string> closest_match(std::string_view word, std::span<const std::string> candidates) {
  return nearest(word, candidates);
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  return phrase(closest_match(word, candidates));
}

std::string did_you_mean(std::string_view word, std::span<const std::string> candidates) {
  return phrase(closest_match(word, candidates));
}

}  // namespace procactor::launcher
