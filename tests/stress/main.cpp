// test-lane-stress [--records N] [--capacity BYTES] [--kills K] [--seed S]
// [doctest options]: our options are taken out, the rest go to doctest.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "stress_config.hpp"

namespace stress {
config& settings() {
  static config c;
  return c;
}
}  // namespace stress

namespace {

bool number_option(const char* name, int& i, int argc, char** argv, std::uint64_t& value) {
  if (std::string(argv[i]) != name) return false;
  if (i + 1 >= argc) {
    std::fprintf(stderr, "%s needs a value\n", name);
    std::exit(2);
  }
  char* end = nullptr;
  value = std::strtoull(argv[++i], &end, 10);
  if (end == argv[i] || *end != '\0') {
    std::fprintf(stderr, "%s: not a number: %s\n", name, argv[i]);
    std::exit(2);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  auto& c = stress::settings();
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::uint64_t kills = c.kills;
    if (number_option("--records", i, argc, argv, c.records) || number_option("--capacity", i, argc, argv, c.capacity) ||
        number_option("--seed", i, argc, argv, c.seed)) {
      continue;
    }
    if (number_option("--kills", i, argc, argv, kills)) {
      c.kills = static_cast<unsigned>(kills);
      continue;
    }
    rest.push_back(argv[i]);
  }
  if (c.capacity < 64 || c.capacity % 8 != 0) {
    std::fprintf(stderr, "--capacity must be a multiple of 8, at least 64\n");
    return 2;
  }
  if (c.seed == 0) c.seed = std::random_device{}() | 1U;
  std::printf("test-lane-stress: --records %llu --capacity %llu --kills %u --seed %llu\n",
              static_cast<unsigned long long>(c.records), static_cast<unsigned long long>(c.capacity), c.kills,
              static_cast<unsigned long long>(c.seed));
  std::fflush(stdout);
  doctest::Context context(static_cast<int>(rest.size()), rest.data());
  return context.run();
}
