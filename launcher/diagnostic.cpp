#include "diagnostic.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <tuple>
#include <vector>

#include "terminal.hpp"

namespace procactor::launcher {

namespace {

// gcc's colours (bold location, bold red "error:", green caret), so colored
// output looks familiar.
const fmt::text_style bold = fmt::emphasis::bold;
const fmt::text_style bold_red = fmt::emphasis::bold | fmt::fg(fmt::terminal_color::red);
const fmt::text_style green = fmt::fg(fmt::terminal_color::green);

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Everything before the 1-based code point `column`, with each code point
// replaced by a space except tabs, which stay tabs so the caret lines up
// whatever the terminal's tab width.
std::string caret_padding(std::string_view line, std::uint32_t column) {
  std::string padding;
  std::uint32_t seen = 1;
  for (char c : line) {
    if (seen >= column) {
      break;
    }
    if (is_continuation_byte(c)) {
      continue;
    }
    padding += (c == '\t') ? '\t' : ' ';
    ++seen;
  }
  // A column past the end (an error at end of file) still gets its caret.
  padding.append(column > seen ? column - seen : 0, ' ');
  return padding;
}

// A line shown as it is only if a terminal shows it as text: valid UTF-8
// with no control character but a tab. A binary file's bytes are not
// echoed (they could be escape sequences).
bool is_printable_text(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size()) {
    const auto byte = static_cast<unsigned char>(line[i]);
    if (byte < 0x80U) {
      if ((byte < 0x20U && byte != '\t') || byte == 0x7FU) return false;
      ++i;
      continue;
    }
    const std::size_t length = byte >= 0xF0U ? 4 : byte >= 0xE0U ? 3 : byte >= 0xC2U ? 2 : 0;
    if (length == 0 || byte > 0xF4U || i + length > line.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if (!is_continuation_byte(line[i + k])) return false;
    }
    // C1 controls (U+0080..U+009F) are control characters too.
    if (byte == 0xC2U && static_cast<unsigned char>(line[i + 1]) < 0xA0U) return false;
    i += length;
  }
  return true;
}

}  // namespace

SourceFile::SourceFile(std::string path, std::string_view text)
    : path_(std::move(path)), text_(text) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      line_starts_.push_back(i + 1);
    }
  }
}

std::optional<SourceFile> SourceFile::read(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string text;
  // On the heap: 64 KiB on the stack alone overflowed a `ulimit -s 64` one.
  std::vector<char> chunk(65536);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      errno = EFBIG;
      return std::nullopt;
    }
  }
  if (in.bad()) {
    return std::nullopt;
  }
  return SourceFile(path.string(), text);
}

std::string_view SourceFile::line(std::uint32_t number) const noexcept {
  if (number == 0 || number > line_starts_.size()) {
    return {};
  }
  const std::size_t begin = line_starts_[number - 1];
  std::size_t end = number < line_starts_.size() ? line_starts_[number] - 1 : text_.size();
  std::string_view line(text_.data() + begin, end - begin);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

Diagnostic SourceFile::error_at(SourcePosition where, std::string message) const {
  return Diagnostic{
      .file = path_,
      .line = where.line,
      .column = where.column,
      .length = std::max<std::uint32_t>(where.length, 1),
      .message = std::move(message),
      .source_line = std::string(line(where.line)),
  };
}

std::string render(const Diagnostic& diagnostic, bool color) {
  std::ostringstream out;
  const auto paint_in = [&](fmt::text_style style, std::string_view text) { out << paint(text, style, color); };
  std::string where = diagnostic.file;
  if (diagnostic.line != 0) {
    where += ':' + std::to_string(diagnostic.line) + ':' + std::to_string(diagnostic.column);
  }
  paint_in(bold, where + ":");
  out << ' ';
  paint_in(bold_red, "error:");
  // A message quotes the file's strings as TOML decoded them: their control
  // characters are written out, as the source line's are left as written.
  out << ' ' << terminal_safe(diagnostic.message) << '\n';
  if (diagnostic.line == 0 || !is_printable_text(diagnostic.source_line)) {
    return out.str();
  }
  // gcc's layout: the line number in a gutter, then the text, then the caret.
  out << std::setw(5) << diagnostic.line << " | " << diagnostic.source_line << '\n';
  out << "      | " << caret_padding(diagnostic.source_line, diagnostic.column);
  std::string marker = "^";
  marker.append(diagnostic.length - 1, '~');
  paint_in(green, marker);
  out << '\n';
  return out.str();
}

void render_all(std::ostream& out, std::span<const Diagnostic> diagnostics, bool color) {
  for (const Diagnostic& diagnostic : diagnostics) {
    out << render(diagnostic, color);
  }
}

void sort_by_position(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
}

}  // namespace procactor::launcher
