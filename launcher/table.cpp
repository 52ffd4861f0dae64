#include "table.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace procactor::launcher {

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      // A control sequence: parameters and intermediates (0x20-0x3f), then
      // its final byte (0x40-0x7e).
      i += 2;
      while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x40) ++i;
      continue;
    }
    if ((byte & 0xC0U) != 0x80U) ++width;  // a continuation byte adds nothing
  }
  return width;
}

void text_table::min_widths(const std::vector<std::size_t>& widths) {
  if (widths_.size() < widths.size()) widths_.resize(widths.size(), 0);
  for (std::size_t c = 0; c < widths.size(); ++c) widths_[c] = std::max(widths_[c], widths[c]);
}

void text_table::add(std::vector<std::string> cells) {
  if (widths_.size() < cells.size()) widths_.resize(cells.size(), 0);
  // The last cell is never padded, so its width moves nothing.
  for (std::size_t c = 0; c + 1 < cells.size(); ++c) widths_[c] = std::max(widths_[c], display_width(cells[c]));
  rows_.push_back({std::move(cells), true});
}

void text_table::add_line(std::string line) { rows_.push_back({{std::move(line)}, false}); }

std::string text_table::take() {
  fmt::memory_buffer out;
  for (const row& r : rows_) {
    // Empty cells at the end of a row are left out, with the blanks before them.
    std::size_t last = r.cells.size();
    while (last > 1 && r.cells[last - 1].empty()) --last;
    for (std::size_t c = 0; c < last; ++c) {
      const std::string& cell = r.cells[c];
      if (!r.columns || c + 1 == last) {
        fmt::format_to(std::back_inserter(out), "{}", cell);
        break;
      }
      // Padded by hand: {fmt}'s own padding would count the escape
      // sequences of a coloured cell as columns.
      const std::size_t pad = widths_[c] - display_width(cell) + gap_;
      fmt::format_to(std::back_inserter(out), "{}{:{}}", cell, "", pad);
    }
    out.push_back('\n');
  }
  rows_.clear();
  return fmt::to_string(out);
}

}  // namespace procactor::launcher
