#include "terminal.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace procactor::launcher {

bool colour_output(bool asked) {
  return asked && ::isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
}

bool progress_output() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDOUT_FILENO) != 0 && (term == nullptr || std::string_view(term) != "dumb");
}

std::string progress_line(std::uint64_t processed, double rate, std::uint64_t restarts, double elapsed_s,
                          bool colour) {
  auto count = [](double n, int digits) {
    char text[32];
    if (n >= 1e9) {
      std::snprintf(text, sizeof text, "%.2f G", n / 1e9);
    } else if (n >= 1e6) {
      std::snprintf(text, sizeof text, "%.2f M", n / 1e6);
    } else if (n >= 1e4) {
      std::snprintf(text, sizeof text, "%.1f k", n / 1e3);
    } else {
      std::snprintf(text, sizeof text, "%.*f", digits, n);
    }
    return std::string(text);
  };
  const auto seconds = static_cast<long long>(elapsed_s);
  char elapsed[32];
  if (seconds >= 3600) {
    std::snprintf(elapsed, sizeof elapsed, "%lldh%02lldm%02llds", seconds / 3600, seconds / 60 % 60, seconds % 60);
  } else if (seconds >= 60) {
    std::snprintf(elapsed, sizeof elapsed, "%lldm%02llds", seconds / 60, seconds % 60);
  } else {
    std::snprintf(elapsed, sizeof elapsed, "%.1f s", elapsed_s);
  }
  const std::string text = count(static_cast<double>(processed), 0) + " messages · " + count(rate, 0) + " msg/s · " +
                           std::to_string(restarts) + (restarts == 1 ? " restart · " : " restarts · ") + elapsed;
  return colour ? "\033[2mprocactor | " + text + "\033[0m" : "procactor | " + text;
}

std::string coloured_line(std::string_view who, std::string_view text, bool launcher_event, std::size_t actor) {
  static const char* palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[91m"};
  std::string line = launcher_event ? "\033[1m" : palette[actor % std::size(palette)];
  line.append(who).append(" |\033[0m ").append(text);
  return line;
}

}  // namespace procactor::launcher
