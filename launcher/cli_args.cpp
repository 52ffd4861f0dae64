#include "cli_args.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <csignal>
#include <utility>

#include "names.hpp"

namespace procactor::launcher {

namespace {

constexpr std::array<std::pair<std::string_view, int>, 12> signal_names{{
    {"HUP", SIGHUP},
    {"INT", SIGINT},
    {"QUIT", SIGQUIT},
    {"ABRT", SIGABRT},
    {"KILL", SIGKILL},
    {"SEGV", SIGSEGV},
    {"TERM", SIGTERM},
    {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},
    {"STOP", SIGSTOP},
    {"CONT", SIGCONT},
    {"ALRM", SIGALRM},
}};

// Linux's highest real-time signal; a number above it is surely a typo.
constexpr int max_signal = 64;

}  // namespace

std::optional<ActorTarget> parse_actor_target(std::string_view text) {
  ActorTarget target;
  const std::size_t dot = text.find('.');
  const std::string_view name = text.substr(0, dot);
  if (!is_valid_name(name)) {
    return std::nullopt;
  }
  target.name = std::string(name);
  if (dot != std::string_view::npos) {
    const std::string_view number = text.substr(dot + 1);
    std::uint32_t replica = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), replica);
    if (number.empty() || error != std::errc() || end != number.data() + number.size()) {
      return std::nullopt;
    }
    target.replica = replica;
  }
  return target;
}

std::string to_string(const ActorTarget& target) {
  return target.replica ? target.name + "." + std::to_string(*target.replica) : target.name;
}

std::optional<int> parse_signal(std::string_view text) {
  int number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && error == std::errc() && end == text.data() + text.size()) {
    return (number >= 1 && number <= max_signal) ? std::optional<int>(number) : std::nullopt;
  }
  std::string upper;
  std::transform(text.begin(), text.end(), std::back_inserter(upper),
                 [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
  std::string_view name = upper;
  if (name.starts_with("SIG")) {
    name.remove_prefix(3);
  }
  for (const auto& [known, value] : signal_names) {
    if (known == name) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace procactor::launcher
