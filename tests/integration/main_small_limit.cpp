// test-integration-small-limit: a run whose Options refuse messages over 1 MiB,
// keep few dead letters, and start actors with exec rather than the fork
// server.
// (Options are per Runtime and a process holds one Runtime, hence a binary.)
#include "support.hpp"

int main(int argc, char** argv) {
  procactor::Options options;
  // Also the suite's run of the exec-based spawn: every actor of this binary
  // is a posix_spawn + exec, not a fork of the fork server.
  options.fork_server = false;
  options.max_message_size = std::size_t{1} << 20;
  options.dead_letters_kept = 50;
  options.dead_letter_bytes_kept = std::size_t{1} << 20;
  return itest::run(argc, argv, options, std::chrono::seconds(100));
}
