// What actor names, graph names and actor types may look like.
//
// Names end up in run directories, in log prefixes (`name.N |`) and in the
// CLI's `ACTOR[.N]` syntax, so they hold no dots and no spaces.
#pragma once

#include <cstddef>
#include <string_view>

namespace procactor::launcher {

inline constexpr std::size_t max_name_length = 63;

// A letter or '_', then letters, digits, '_' or '-'; at most max_name_length.
[[nodiscard]] bool is_valid_name(std::string_view name) noexcept;

// Dotted identifiers, at least two (`examples.PrimeCounter`), so every type
// says which plugin family it comes from.
[[nodiscard]] bool is_valid_type(std::string_view type) noexcept;

}  // namespace procactor::launcher
