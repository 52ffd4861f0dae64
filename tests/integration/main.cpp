// test-integration: the runtime with real actor processes, default Options.
#include "support.hpp"

int main(int argc, char** argv) {
  // Constructed first thing inside run(): in an actor process it never returns.
  return itest::run(argc, argv, procactor::Options{}, std::chrono::seconds(280));
}
