// test-integration-give-up: a run whose root group allows one restart in a
// minute, so that a test can watch supervision end. (Options are per
// Runtime and a process holds one Runtime, hence a binary.)
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  options.supervision = {procactor::Strategy::one_for_one, 1, std::chrono::seconds(60)};
  options.shutdown_timeout = std::chrono::seconds(10);
  return itest::run(argc, argv, options, std::chrono::seconds(110));
}
