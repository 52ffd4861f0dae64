// procactor::launcher::Diagnostic — one error in a graph file, rendered the
// way gcc renders a compile error, so editors and terminals that already
// jump to `file:line:col` locations work on graph files too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace procactor::launcher {

// 1-based, as toml++ reports them; line 0 means "the file as a whole".
// Columns count code points, so a caret lines up under UTF-8 text too.
struct SourcePosition {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  // Code points to underline from `column`; 1 draws a lone caret.
  std::uint32_t length = 1;
};

struct Diagnostic {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::uint32_t length = 1;
  std::string message;
  // A copy of the offending line, so a diagnostic renders on its own after
  // the text it came from is gone.
  std::string source_line;
};

// The text of a graph file, kept so diagnostics can quote their line.
class SourceFile {
 public:
  SourceFile() = default;
  // `path` is kept as given: diagnostics print it as the user wrote it.
  SourceFile(std::string path, std::string_view text);

  // Reads the whole file; nullopt when it cannot be opened or read (errno
  // says why), or holds more than `max_bytes` (errno EFBIG; /dev/zero
  // would otherwise be read for ever).
  [[nodiscard]] static std::optional<SourceFile> read(const std::filesystem::path& path,
                                                      std::size_t max_bytes = std::size_t{16} << 20);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] std::string_view line(std::uint32_t number) const noexcept;

  [[nodiscard]] Diagnostic error_at(SourcePosition where, std::string message) const;

 private:
  std::string path_;
  std::string text_;
  // Offsets rather than views, so a copied SourceFile stays valid.
  std::vector<std::size_t> line_starts_;
};

// `file:line:col: error: message`, the source line, and a caret line under
// the column; a line-0 diagnostic is just `file: error: message`.
[[nodiscard]] std::string render(const Diagnostic& diagnostic, bool color = false);

// Renders each diagnostic in order, then nothing else: the caller decides
// whether to add a summary.
void render_all(std::ostream& out, std::span<const Diagnostic> diagnostics, bool color = false);

// Orders diagnostics by position, keeping the order in which they were found
// for equal positions, so the output reads top to bottom like the file.
void sort_by_position(std::vector<Diagnostic>& diagnostics);

}  // namespace procactor::launcher
