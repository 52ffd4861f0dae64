#include "busy_core.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "child_process.hpp"

namespace procactor_bench {

namespace {

constexpr std::string_view child_flag = "--child";
constexpr std::string_view spin_mode = "busy-spin";
constexpr auto start_timeout = std::chrono::seconds(20);

}  // namespace

struct busy_core::impl {
  std::optional<child_process> child;
};

busy_core::busy_core() : impl_(std::make_unique<impl>()) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  const fd_guard read_end(fds[0]);
  fd_guard write_end(fds[1]);
  impl_->child.emplace(child_process::start(
      self_executable(),
      {"procactor-bench", std::string(child_flag), std::string(spin_mode), std::to_string(::getpid())},
      write_end.get()));
  write_end.reset();
  // Its byte says it has started spinning: the workload is timed against a
  // CPU already taken, not against one being taken during the run.
  std::string byte;
  const bool closed = read_until_eof(read_end.get(), byte, std::chrono::steady_clock::now() + start_timeout);
  if (byte.empty()) {
    const auto status = closed ? impl_->child->wait_for(std::chrono::seconds(1)) : std::nullopt;
    throw std::runtime_error(!closed ? std::string("the busy-core spinner did not start in time")
                             : status ? "the busy-core spinner " + status->describe()
                                      : std::string("the busy-core spinner closed its pipe unstarted"));
  }
}

busy_core::~busy_core() = default;  // ~child_process kills and reaps it

bool is_busy_core_child(int argc, char** argv) {
  return argc == 4 && argv[1] == child_flag && argv[2] == spin_mode;
}

int busy_core_child_main(int argc, char** argv) {
  (void)argc;
  if (!announce_child_started(argv[3])) return 1;
  // Closing stdout is what lets the parent's read return: it reads to EOF.
  ::close(STDOUT_FILENO);
  // Pure CPU work: a counter the compiler must keep, nothing that sleeps or
  // touches memory that others use.
  volatile std::uint64_t spins = 0;
  for (;;) spins = spins + 1;
}

}  // namespace procactor_bench
