// The tables the commands print (status, ls, events): each column as wide
// as its widest cell, so that a long actor, group or run name moves the
// columns after it instead of running into them. A width is what a terminal
// shows: code points, not the bytes of UTF-8, and never the escape
// sequences of colour.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace procactor::launcher {

// The columns a terminal gives `text`: one per code point, none for an
// escape sequence (ESC [ ... final byte, as colour is written).
[[nodiscard]] std::size_t display_width(std::string_view text);

class text_table {
 public:
  // `gap`: the blanks between two columns.
  explicit text_table(std::size_t gap = 2) : gap_(gap) {}

  // Columns at least this wide, whatever their cells: lines printed in
  // batches (`events -f`) line up while no cell is wider.
  void min_widths(const std::vector<std::size_t>& widths);
  // A row of cells, the first in the first column.
  void add(std::vector<std::string> cells);
  // A line as it is, outside the columns (its width counts for none of them).
  void add_line(std::string line);

  // The lines added since the last take, each ending in '\n', padded to the
  // widths of every row added so far; the last cell of a row is never padded.
  [[nodiscard]] std::string take();

 private:
  struct row {
    std::vector<std::string> cells;
    bool columns = true;  // false: a line as it is
  };

  std::size_t gap_;
  std::vector<std::size_t> widths_;
  std::vector<row> rows_;
};

}  // namespace procactor::launcher
