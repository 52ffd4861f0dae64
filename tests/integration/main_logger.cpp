// test-integration-logger: a run with Options::logger set, which takes the
// lines the supervising program's runtime logs. (Options are per Runtime
// and a process holds one Runtime, hence a binary.)
#include "support.hpp"

// test_logger.cpp: Options whose logger keeps every line for the tests.
procactor::Options logger_options();

int main(int argc, char** argv) { return itest::run(argc, argv, logger_options(), std::chrono::seconds(100)); }
