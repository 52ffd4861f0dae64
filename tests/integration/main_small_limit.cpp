// test-integration-small-limit: a run whose Options refuse messages over 1 MiB.
// (Options are per Runtime and a process holds one Runtime, hence a binary.)
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  options.max_message_size = std::size_t{1} << 20;
  return itest::run(argc, argv, options, std::chrono::seconds(100));
}
