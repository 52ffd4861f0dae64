#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iterator>

namespace procactor::launcher {

bool colour_output(bool asked) {
  return asked && ::isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
}

std::string coloured_line(std::string_view who, std::string_view text, bool launcher_event, std::size_t actor) {
  static const char* palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[91m"};
  std::string line = launcher_event ? "\033[1m" : palette[actor % std::size(palette)];
  line.append(who).append(" |\033[0m ").append(text);
  return line;
}

}  // namespace procactor::launcher
