#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iterator>

#include <fmt/format.h>

namespace procactor::launcher {

namespace {

colour_mode process_mode = colour_mode::automatic;

bool set_and_not_empty(const char* value) { return value != nullptr && *value != '\0'; }

}  // namespace

std::optional<colour_mode> parse_colour_mode(std::string_view text) {
  if (text == "auto") return colour_mode::automatic;
  if (text == "always") return colour_mode::always;
  if (text == "never") return colour_mode::never;
  return std::nullopt;
}

void set_colour_mode(colour_mode mode) { process_mode = mode; }

colour_mode current_colour_mode() { return process_mode; }

bool colour_for(int fd, colour_mode mode) {
  if (mode != colour_mode::automatic) return mode == colour_mode::always;
  // https://no-color.org: NO_COLOR set and not empty turns colour off; CLICOLOR_FORCE
  // (https://bixense.com/clicolors) turns it on where no terminal is, as in a CI log.
  if (set_and_not_empty(std::getenv("NO_COLOR"))) return false;
  const char* force = std::getenv("CLICOLOR_FORCE");
  if (set_and_not_empty(force) && std::string_view(force) != "0") return true;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return ::isatty(fd) != 0;
}

bool colour_for(int fd) { return colour_for(fd, process_mode); }

std::string paint(std::string_view text, fmt::text_style style, bool colour) {
  return colour ? fmt::format("{}", fmt::styled(text, style)) : std::string(text);
}

namespace {

// The length of the colour sequence at the start of `text` (ESC [ then
// digits, ';' or ':', then m), or 0 where it is none.
std::size_t colour_sequence(std::string_view text) {
  if (text.size() < 3 || text[0] != '\x1b' || text[1] != '[') return 0;
  for (std::size_t i = 2; i < text.size(); ++i) {
    const char c = text[i];
    if (c == 'm') return i + 1;
    if (!((c >= '0' && c <= '9') || c == ';' || c == ':')) return 0;
  }
  return 0;
}

bool needs_escape(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// A C1 control as UTF-8 writes it: 0xC2 then 0x80-0x9F.
bool c1_control(std::string_view text, std::size_t at) {
  return static_cast<unsigned char>(text[at]) == 0xc2 && at + 1 < text.size() &&
         static_cast<unsigned char>(text[at + 1]) >= 0x80 && static_cast<unsigned char>(text[at + 1]) <= 0x9f;
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  std::size_t copied = 0;  // text[copied, i) is still to be appended as it is
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!needs_escape(c) && !c1_control(text, i)) {
      ++i;
      continue;
    }
    if (const std::size_t colour = colour_sequence(text.substr(i)); colour > 0) {
      i += colour;
      continue;
    }
    if (out.empty()) out.reserve(text.size() + 16);
    out.append(text.substr(copied, i - copied));
    if (needs_escape(c)) {
      out += fmt::format("\\x{:02x}", c);
      i += 1;
    } else {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
      i += 2;
    }
    copied = i;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) != 0; }

bool stdout_redraws() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) != 0 && (term == nullptr || std::string_view(term) != "dumb");
}

std::string progress_line(std::uint64_t processed, double rate, std::uint64_t restarts, double elapsed_s, bool colour,
                          std::size_t width) {
  const auto count = [](double n) {
    if (n >= 1e9) return fmt::format("{:.2f} G", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
    if (n >= 1e4) return fmt::format("{:.1f} k", n / 1e3);
    return fmt::format("{:.0f}", n);
  };
  const auto seconds = static_cast<long long>(elapsed_s);
  const std::string elapsed =
      seconds >= 3600 ? fmt::format("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
      : seconds >= 60 ? fmt::format("{}m{:02}s", seconds / 60, seconds % 60)
                      : fmt::format("{:.1f} s", elapsed_s);
  std::string text =
      fmt::format("procactor | {} messages · {} msg/s · {} {} · {}", count(static_cast<double>(processed)), count(rate),
                  restarts, restarts == 1 ? "restart" : "restarts", elapsed);
  // One character per code point: the line is ASCII and '·'.
  std::size_t shown = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (width > 0 && shown++ == width) {
      text.resize(i);
      break;
    }
  }
  return paint(text, fmt::emphasis::faint, colour);
}

std::size_t stdout_columns() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 0;
}

std::string coloured_line(std::string_view who, std::string_view text, bool launcher_event, std::size_t actor) {
  static constexpr fmt::terminal_color palette[] = {fmt::terminal_color::cyan,    fmt::terminal_color::yellow,
                                                    fmt::terminal_color::magenta, fmt::terminal_color::green,
                                                    fmt::terminal_color::blue,    fmt::terminal_color::bright_red};
  const fmt::text_style style = launcher_event ? fmt::emphasis::bold : fmt::fg(palette[actor % std::size(palette)]);
  return fmt::format("{} {}", fmt::styled(fmt::format("{} |", who), style), text);
}

}  // namespace procactor::launcher
