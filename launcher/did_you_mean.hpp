// "did you mean 'X'?" for misspelt keys, actor names and actor types.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace procactor::launcher {

// Optimal string alignment distance: Levenshtein plus adjacent swaps, so
// "tpye" is one edit from "type" as a reader would count it.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, if it is close enough to be a likely
// typo: at most 2 edits, and fewer than half the word's length so that a
// short word does not "match" an unrelated one ("to" is not "id").
// Ties go to the earlier candidate, so suggestions are stable.
[[nodiscard]] std::optional<std::string> closest_match(std::string_view word,
                                                       std::span<const std::string_view> candidates);
[[nodiscard]] std::optional<std::string> closest_match(std::string_view word,
                                                       std::span<const std::string> candidates);

// " (did you mean 'X'?)" or "" — ready to append to a message.
[[nodiscard]] std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);
[[nodiscard]] std::string did_you_mean(std::string_view word, std::span<const std::string> candidates);

}  // namespace procactor::launcher
