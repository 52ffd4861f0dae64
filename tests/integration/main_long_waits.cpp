// test-integration-long-waits: a run whose Options::send_timeout and
// shutdown_timeout are milliseconds::max(), "for ever", which the runtime
// takes as about 100 years. (Options are per Runtime and a process holds one
// Runtime, hence a binary.)
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  options.send_timeout = std::chrono::milliseconds::max();
  options.shutdown_timeout = std::chrono::milliseconds::max();
  return itest::run(argc, argv, options, std::chrono::seconds(100));
}
