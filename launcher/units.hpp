// Durations and sizes as graph files write them: "250ms", "1MiB".
//
// Durations: a non-negative integer and a unit, one of ns, us, ms, s, m, h.
// A bare number is refused, because "5" could mean seconds or milliseconds
// and guessing wrong is a silent bug.
//
// Sizes: a non-negative integer, optionally followed by a unit. IEC units
// (KiB, MiB, GiB, TiB) are powers of 1024, SI units (KB, MB, GB, TB) powers
// of 1000, and B or no unit means bytes — the same reading as systemd and
// the kernel's documentation, so a user who knows either is not surprised.
// Units are case-sensitive: "mb" is a typo for "MB" or "MiB", not a guess.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace procactor::launcher {

// A parsed value, or why the text is not one (a message that reads well
// after "error: ").
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;

  [[nodiscard]] explicit operator bool() const noexcept { return value.has_value(); }
};

[[nodiscard]] Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text);
[[nodiscard]] Parsed<std::uint64_t> parse_size(std::string_view text);

// Where an HTTP server listens: `PORT`, `ADDR:PORT` or `[IPv6]:PORT`; the
// address is 127.0.0.1 when absent. Port 0 asks for any free port.
struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 0;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};
[[nodiscard]] Parsed<ListenAddress> parse_listen_address(std::string_view text);

// The shortest exact spelling: 1500ms stays "1500ms", 60s becomes "1m".
[[nodiscard]] std::string format_duration(std::chrono::nanoseconds duration);
// "1MiB" when exact in an IEC unit, else plain bytes.
[[nodiscard]] std::string format_size(std::uint64_t bytes);
// "1 node", "3 nodes": a count and a noun that takes an s.
[[nodiscard]] std::string format_count(std::uint64_t n, std::string_view noun);

}  // namespace procactor::launcher
