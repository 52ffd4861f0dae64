// test-integration-tiny-arena: a run whose shared memory is capped at the
// smallest arena the runtime makes, so that the tests can run it out.
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  options.arena_size = 1;  // raised to the minimum: the slot table and 1 MiB
  return itest::run(argc, argv, options, std::chrono::seconds(200));
}
