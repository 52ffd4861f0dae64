// The CPU-bound work of the primes examples, shared by example-primes, the
// plugin and the benchmark so that they all count the same way.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace examples {

// Trial division on purpose: the point is CPU work per number, not speed.
inline std::int64_t count_primes(std::int64_t from, std::int64_t to) {
  std::int64_t count = 0;
  for (std::int64_t n = std::max<std::int64_t>(from, 2); n < to; ++n) {
    bool prime = true;
    for (std::int64_t d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime ? 1 : 0;
  }
  return count;
}

// Lower-cased runs of letters and digits.
inline std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

}  // namespace examples
