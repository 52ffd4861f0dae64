// test-lane-stress's command line, read by main.cpp before doctest sees it.
#pragma once

#include <cstdint>

namespace stress {

struct config {
  std::uint64_t records = 2'000'000;   // --records: records per run
  std::uint64_t capacity = 16 << 10;   // --capacity: lane bytes
  unsigned kills = 8;                  // --kills: consumer SIGKILLs in the two-process run
  std::uint64_t seed = 0;              // --seed: sizes and kill points; 0: random
};

config& settings();

}  // namespace stress
