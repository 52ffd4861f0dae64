// The supervisor SIGKILLed: its actors die with it (PR_SET_PDEATHSIG), and
// the next Runtime start sweeps the shared memory it could not remove.
//
//   test ──posix_spawn──▶ procactor-orphan-helper spawn ──▶ 3 actors
//        ──SIGKILL──────▶ helper   => actors die; /dev/shm/procactor-<helper>-* stays
//        ──posix_spawn──▶ procactor-orphan-helper sweep  => the segment is gone
//
// This test process is a child subreaper (its own Runtime made it one), so
// the helper's orphaned actors are re-parented here and reaped here.
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "probe.hpp"
#include "support.hpp"

extern char** environ;

using namespace itest;

namespace {

// Runs the helper with `mode`; its stdout comes back through `out_fd` when asked for.
pid_t start_helper(const char* mode, int* out_fd) {
  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out_fd != nullptr) {
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  }
  std::string path = PROCACTOR_ORPHAN_HELPER;
  std::string mode_text = mode;
  char* argv[] = {path.data(), mode_text.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (out_fd != nullptr) {
    ::close(pipe_fds[1]);
    *out_fd = pipe_fds[0];
  }
  REQUIRE_MESSAGE(rc == 0, "posix_spawn of " << path << " failed");
  return pid;
}

std::string read_line(int fd, std::chrono::seconds limit) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[256];
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

// Reaps `pid` if it is our (re-parented) child and has died; true once it
// has been reaped here, or, if it is not our child, once it no longer runs.
// A zombie of ours is not gone: it must be reaped, or it outlives the test.
bool gone(int pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return true;
  if (r < 0 && errno == ECHILD) return !probe::is_running(pid);
  return false;
}

}  // namespace

TEST_SUITE("supervisor death") {

TEST_CASE("a SIGKILLed supervisor takes its actors with it and the next Runtime sweeps its shared memory" *
          doctest::timeout(60)) {
  int out = -1;
  const pid_t helper = start_helper("spawn", &out);
  // Whatever happens below, the helper does not outlive the test.
  struct reaper {
    pid_t pid;
    ~reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } helper_guard{helper};

  const std::string line = read_line(out, std::chrono::seconds(30));
  ::close(out);
  std::istringstream fields(line);
  int reported = 0;
  fields >> reported;
  REQUIRE(reported == helper);
  std::vector<int> actors;
  for (int pid; fields >> pid;) actors.push_back(pid);
  REQUIRE(actors.size() == 3);
  for (int pid : actors) CHECK(probe::is_running(pid));
  REQUIRE_FALSE(probe::run_segments(helper).empty());

  REQUIRE(::kill(helper, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  helper_guard.pid = 0;
  CHECK(WIFSIGNALED(status));

  for (int pid : actors) {
    CAPTURE(pid);
    CHECK(eventually([&] { return gone(pid); }));
  }
  // SIGKILL gave the helper no chance to clean up.
  CHECK_FALSE(probe::run_segments(helper).empty());

  const pid_t sweeper = start_helper("sweep", nullptr);
  REQUIRE(::waitpid(sweeper, &status, 0) == sweeper);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto left = probe::run_segments(helper);
  CHECK_MESSAGE(left.empty(), "segments of the dead supervisor still in /dev/shm: " << left.size());
  for (const auto& name : left) probe::remove_segment(name);
  CHECK(probe::run_segments(sweeper).empty());  // and the sweeper cleaned up after itself
}

}  // TEST_SUITE
