#include <doctest/doctest.h>

#include "units.hpp"

using namespace procactor::launcher;
using namespace std::chrono_literals;

TEST_CASE("durations take every documented unit") {
  CHECK(*parse_duration("100ns").value == 100ns);
  CHECK(*parse_duration("100us").value == 100us);
  CHECK(*parse_duration("250ms").value == 250ms);
  CHECK(*parse_duration("5s").value == 5s);
  CHECK(*parse_duration("2m").value == 2min);
  CHECK(*parse_duration("1h").value == 1h);
  CHECK(*parse_duration("0s").value == 0s);
}

TEST_CASE("durations accept digit groups and a space before the unit") {
  CHECK(*parse_duration("20_000ms").value == 20s);
  CHECK(*parse_duration("5 s").value == 5s);
}

TEST_CASE("a duration without a unit is refused rather than guessed") {
  const auto parsed = parse_duration("30");
  CHECK_FALSE(parsed);
  CHECK(parsed.error == "duration '30' needs a unit (ns, us, ms, s, m, h)");
}

TEST_CASE("bad durations say what is wrong") {
  CHECK(parse_duration("5sec").error == "unknown duration unit 'sec' in '5sec' (use ns, us, ms, s, m, h)");
  CHECK(parse_duration("1.5s").error ==
        "duration '1.5s' must be a whole number; use a smaller unit instead of a fraction");
  CHECK(parse_duration("-1s").error == "duration '-1s' must start with a non-negative whole number");
  CHECK(parse_duration("").error == "duration '' must start with a non-negative whole number");
  CHECK(parse_duration("s").error == "duration 's' must start with a non-negative whole number");
  CHECK(parse_duration("99999999999h").error == "duration '99999999999h' is too large");
}

TEST_CASE("sizes take IEC units as powers of 1024 and SI units as powers of 1000") {
  CHECK(*parse_size("512").value == 512);
  CHECK(*parse_size("512B").value == 512);
  CHECK(*parse_size("64KiB").value == 65'536);
  CHECK(*parse_size("1MiB").value == 1'048'576);
  CHECK(*parse_size("1GiB").value == 1'073'741'824);
  CHECK(*parse_size("2TiB").value == 2ULL << 40U);
  CHECK(*parse_size("1KB").value == 1'000);
  CHECK(*parse_size("3MB").value == 3'000'000);
  CHECK(*parse_size("1GB").value == 1'000'000'000);
}

TEST_CASE("size units are case-sensitive") {
  CHECK(parse_size("1mb").error == "unknown size unit 'mb' in '1mb' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
  CHECK_FALSE(parse_size("1kib"));
}

TEST_CASE("a size that does not fit in 64 bits is refused") {
  CHECK(parse_size("100000000000TiB").error == "size '100000000000TiB' is too large");
  CHECK(parse_size("99999999999999999999").error == "size '99999999999999999999' is too large");
}

TEST_CASE("formatting picks the largest exact unit") {
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(60s) == "1m");
  CHECK(format_duration(0s) == "0s");
  CHECK(format_size(1'048'576) == "1MiB");
  CHECK(format_size(4096) == "4KiB");
  CHECK(format_size(1000) == "1000");
  CHECK(format_size(0) == "0");
}
