// test-integration-backpressure: a run whose Options::send_timeout is short,
// so that a wait past it is quick to show.
// (Options are per Runtime and a process holds one Runtime, hence a binary.)
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  options.send_timeout = std::chrono::milliseconds(200);
  return itest::run(argc, argv, options, std::chrono::seconds(100));
}
