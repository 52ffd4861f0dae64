// test-integration-scale: a thousand actors and an all-to-all graph, with
// default Options. Its own binary: it is the slowest of the integration
// tests, and its figures read best without other tests' actors around.
#include "support.hpp"

int main(int argc, char** argv) {
  return itest::run(argc, argv, procactor::Options{}, std::chrono::seconds(900));
}
