#include "units.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace procactor::launcher {

namespace {

struct Unit {
  std::string_view name;
  std::uint64_t scale;
};

constexpr std::array duration_units{
    Unit{"ns", 1ULL},
    Unit{"us", 1'000ULL},
    Unit{"ms", 1'000'000ULL},
    Unit{"s", 1'000'000'000ULL},
    Unit{"m", 60'000'000'000ULL},
    Unit{"h", 3'600'000'000'000ULL},
};

constexpr std::array size_units{
    Unit{"B", 1ULL},
    Unit{"KiB", 1ULL << 10U},
    Unit{"MiB", 1ULL << 20U},
    Unit{"GiB", 1ULL << 30U},
    Unit{"TiB", 1ULL << 40U},
    Unit{"KB", 1'000ULL},
    Unit{"MB", 1'000'000ULL},
    Unit{"GB", 1'000'000'000ULL},
    Unit{"TB", 1'000'000'000'000ULL},
};

constexpr std::string_view duration_unit_list = "ns, us, ms, s, m, h";
constexpr std::string_view size_unit_list = "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB";

// Splits "250ms" into 250 and "ms". Digits may be grouped with '_' as in
// TOML integers ("20_000ms").
struct Split {
  std::uint64_t number = 0;
  std::string_view unit;
  std::string error;
};

Split split_number(std::string_view text, std::string_view what) {
  Split result;
  std::size_t i = 0;
  bool any_digit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_' && any_digit && i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9') {
      continue;
    }
    if (c < '0' || c > '9') {
      break;
    }
    any_digit = true;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (result.number > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      result.error = std::string(what) + " '" + std::string(text) + "' is too large";
      return result;
    }
    result.number = result.number * 10 + digit;
  }
  if (!any_digit) {
    result.error = std::string(what) + " '" + std::string(text) + "' must start with a non-negative whole number";
    return result;
  }
  result.unit = text.substr(i);
  // "5 s" is a natural thing to write; accept one run of spaces before the unit.
  while (!result.unit.empty() && result.unit.front() == ' ') {
    result.unit.remove_prefix(1);
  }
  if (!result.unit.empty() && (result.unit.front() == '.' || result.unit.front() == ',')) {
    result.error = std::string(what) + " '" + std::string(text) + "' must be a whole number; use a smaller unit instead of a fraction";
  }
  return result;
}

template <std::size_t N>
const Unit* find_unit(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& unit : units) {
    if (unit.name == name) {
      return &unit;
    }
  }
  return nullptr;
}

bool multiply_fits(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  return b == 0 || a <= limit / b;
}

}  // namespace

Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  Parsed<std::chrono::nanoseconds> result;
  Split split = split_number(text, "duration");
  if (!split.error.empty()) {
    result.error = std::move(split.error);
    return result;
  }
  if (split.unit.empty()) {
    result.error = "duration '" + std::string(text) + "' needs a unit (" + std::string(duration_unit_list) + ")";
    return result;
  }
  const Unit* unit = find_unit(duration_units, split.unit);
  if (unit == nullptr) {
    result.error = "unknown duration unit '" + std::string(split.unit) + "' in '" + std::string(text) +
                   "' (use " + std::string(duration_unit_list) + ")";
    return result;
  }
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::nanoseconds::rep>::max());
  if (!multiply_fits(split.number, unit->scale, limit)) {
    result.error = "duration '" + std::string(text) + "' is too large";
    return result;
  }
  result.value = std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(split.number * unit->scale));
  return result;
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
  Parsed<std::uint64_t> result;
  Split split = split_number(text, "size");
  if (!split.error.empty()) {
    result.error = std::move(split.error);
    return result;
  }
  const Unit* unit = split.unit.empty() ? &size_units.front() : find_unit(size_units, split.unit);
  if (unit == nullptr) {
    result.error = "unknown size unit '" + std::string(split.unit) + "' in '" + std::string(text) + "' (use " +
                   std::string(size_unit_list) + ")";
    return result;
  }
  if (!multiply_fits(split.number, unit->scale, std::numeric_limits<std::uint64_t>::max())) {
    result.error = "size '" + std::string(text) + "' is too large";
    return result;
  }
  result.value = split.number * unit->scale;
  return result;
}

std::string format_duration(std::chrono::nanoseconds duration) {
  const auto count = static_cast<std::uint64_t>(duration.count());
  if (count == 0) {
    return "0s";
  }
  for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
    if (count % it->scale == 0) {
      return std::to_string(count / it->scale) + std::string(it->name);
    }
  }
  return std::to_string(count) + "ns";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) {
    return "0";
  }
  // Largest IEC unit first; SI units are accepted but never chosen, since
  // mailbox sizes are naturally powers of two.
  for (std::size_t i = 4; i >= 1; --i) {
    if (bytes % size_units[i].scale == 0) {
      return std::to_string(bytes / size_units[i].scale) + std::string(size_units[i].name);
    }
  }
  return std::to_string(bytes);
}

std::string format_count(std::uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

Parsed<ListenAddress> parse_listen_address(std::string_view text) {
  Parsed<ListenAddress> parsed;
  ListenAddress where;
  std::string_view port = text;
  if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) {
      parsed.error = "'" + std::string(text) + "' has no address before the ':' (write PORT, ADDR:PORT or [IPv6]:PORT)";
      return parsed;
    }
    if (host.find_first_of(" /\t") != std::string_view::npos) {
      parsed.error = "'" + std::string(host) + "' is not an address";
      return parsed;
    }
    // What reads as a numeric address must be one; a name is looked up
    // when the dashboard binds.
    const std::string literal(host);
    unsigned char bytes[sizeof(in6_addr)];
    const bool v6 = literal.find(':') != std::string::npos;
    const bool v4 = literal.find_first_not_of("0123456789.") == std::string::npos;
    if ((v6 && ::inet_pton(AF_INET6, literal.c_str(), bytes) != 1) ||
        (v4 && ::inet_pton(AF_INET, literal.c_str(), bytes) != 1)) {
      parsed.error = "'" + literal + "' is not an " + (v6 ? "IPv6" : "IPv4") + " address";
      return parsed;
    }
    where.host = std::string(host);
  }
  int value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535) {
    parsed.error = "'" + std::string(port) + "' is not a port (0 to 65535)";
    return parsed;
  }
  where.port = value;
  parsed.value = where;
  return parsed;
}

}  // namespace procactor::launcher
