// The supervisor SIGKILLed: its actors die with it (PR_SET_PDEATHSIG), and
// its guardian removes the shared memory it could not remove itself. Where
// the guardian died too, the next Runtime's start-up sweep does, and the
// sweep never touches the segments of a live supervisor, even one in another
// PID namespace that shares /dev/shm.
//
//   test ──posix_spawn──▶ procactor-orphan-helper spawn ──▶ 3 actors, guardian
//        ──SIGKILL──────▶ helper   => actors die; the guardian unlinks the segments
//
// This test process is a child subreaper (its own Runtime made it one), so
// the helper's orphaned actors and guardian are re-parented here and reaped
// here.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "probe.hpp"
#include "support.hpp"

extern char** environ;

// An actor that forks: its copy returns from the handler, into the actor's
// message loop.
namespace forking {
struct Fork {
  template <class Archive>
  void serialize(Archive&) {}
};
// Waits for the last copy to end: its wait status.
struct Reap {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Twice {
  int value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};
}  // namespace forking
PROCACTOR_MESSAGE(forking::Fork);
PROCACTOR_MESSAGE(forking::Reap);
PROCACTOR_MESSAGE(forking::Twice);

namespace forking {
class Forker : public procactor::Actor<Forker, Fork, Reap, Twice> {
 public:
  int on(const Fork&) {
    const pid_t pid = ::fork();
    if (pid > 0) last_ = pid;
    return static_cast<int>(pid);
  }
  int on(const Reap&) {
    int status = 0;
    return ::waitpid(last_, &status, 0) == last_ ? status : -1;
  }
  int on(const Twice& t) { return t.value * 2; }

 private:
  pid_t last_ = 0;
};
}  // namespace forking
PROCACTOR_ACTOR(forking::Forker);

using namespace itest;

namespace {

// Runs the helper with `mode`, and `extra` added to its environment; its
// stdout comes back through `out_fd` when asked for.
pid_t start_helper(const char* mode, int* out_fd, const std::vector<std::string>& extra = {}) {
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
  std::vector<std::string> entries(extra);
  for (char** e = environ; *e != nullptr; ++e) entries.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
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

// Reaps the processes called `command` that were re-parented here and have
// exited; returns how many are still our children (for guardians: our own
// Runtime's, and any still on their way out).
std::size_t reap_orphans(const std::string& command) {
  std::size_t left = 0;
  for (const auto& child : probe::children_of(::getpid())) {
    if (child.command != command) continue;
    if (child.state == 'Z') {
      ::waitpid(child.pid, nullptr, WNOHANG);
    } else {
      ++left;
    }
  }
  return left;
}

// Waits until this program's own clones have taken their names: a guardian
// or a spare the fork server has just cloned is called procactor-fork for a
// moment, and counted then it threw the counts of the helpers this program
// keeps (own_guardians, own_servers, ...) out by one (a busy machine).
void settle_own_helpers() {
  eventually([] {
    std::size_t servers = 0;
    for (const auto& child : probe::children_of(::getpid())) {
      if (child.command == "procactor-fork" && child.state != 'Z') ++servers;
    }
    return servers <= 1;
  });
}

// The same for the helper's actors (procactor-orphan-helper names them
// idler, idler-N, more-N, victim; none of this program's is so named): one
// it had spawned when it was killed comes here as a zombie.
std::size_t reap_helper_actors() {
  std::size_t left = 0;
  for (const auto& child : probe::children_of(::getpid())) {
    const std::string& name = child.command;
    if (!name.starts_with("idler") && !name.starts_with("more-") && name != "victim") continue;
    if (child.state == 'Z') {
      ::waitpid(child.pid, nullptr, WNOHANG);
    } else {
      ++left;
    }
  }
  return left;
}

// Every helper and actor of a killed helper reaped, this program's own
// left: all at once, since a clone is called procactor-fork until it takes
// its own name (checked one after the other, a guardian counted as a fork
// server was left a zombie).
bool helpers_reaped(std::size_t own_guardians, std::size_t own_servers, std::size_t own_spares) {
  const bool guardians = reap_orphans("procactor-guard") == own_guardians;
  const bool servers = reap_orphans("procactor-fork") == own_servers;
  const bool spares = reap_orphans("procactor-spare") == own_spares;
  return guardians && servers && spares && reap_helper_actors() == 0;
}

bool exists(const std::string& segment) { return ::access(("/dev/shm/" + segment).c_str(), F_OK) == 0; }

// The helper in "spawn" mode, once it has said its pid and its 3 actors'.
// Whatever happens in the test, the helper does not outlive it (the guard
// kills and reaps it unless the test cleared `guard.pid`).
struct spawned_helper {
  struct reaper {
    pid_t pid = 0;
    ~reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } guard;
  std::vector<int> actors;
};

void start_spawn_helper(spawned_helper& h, const std::vector<std::string>& extra = {}) {
  int out = -1;
  h.guard.pid = start_helper("spawn", &out, extra);
  const std::string line = read_line(out, std::chrono::seconds(30));
  ::close(out);
  std::istringstream fields(line);
  int reported = 0;
  fields >> reported;
  REQUIRE(reported == h.guard.pid);
  for (int pid; fields >> pid;) h.actors.push_back(pid);
  REQUIRE(h.actors.size() == 3);
}

}  // namespace

TEST_SUITE("supervisor death") {

// Whether the process's first environment (what it was exec'd with) has
// `entry`: a process forked without exec has its parent's.
bool started_with(int pid, const std::string& entry) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ");
  for (std::string e; std::getline(file, e, '\0');) {
    if (e == entry) return true;
  }
  return false;
}

// A crash during the shutdown's drain took a group over its limit; the
// root restarts nothing then, and did not go over its own limit for it,
// yet rt.gave_up() and the log said the root gave up ("more than 10
// restarts within 1min").
TEST_CASE("a group that gives up during the shutdown does not make the root give up" * doctest::timeout(120)) {
  int out = -1;
  const pid_t helper = start_helper("shutdown-give-up", &out);
  std::string said;
  for (;;) {
    char buffer[256];
    const auto n = ::read(out, buffer, sizeof buffer);
    if (n <= 0) break;
    said.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_MESSAGE(said == "none\n", said);
}

TEST_CASE("a SIGKILLed supervisor takes its actors with it and its guardian removes its shared memory at once" *
          doctest::timeout(90)) {
  // The guardian is cloned by the fork server, or, where actors start with
  // exec, exec'd like them (PROCACTOR_GUARDIAN=<run> in its environment).
  bool exec = false;
  SUBCASE("guardian cloned by the fork server") {}
  SUBCASE("guardian exec'd (PROCACTOR_SPAWN=exec)") { exec = true; }
  CAPTURE(exec);
  // This program's own Runtime's helpers, if earlier tests made it (the
  // spares come with its first spawn): they stay.
  settle_own_helpers();
  const std::size_t own_guardians = reap_orphans("procactor-guard");
  const std::size_t own_servers = reap_orphans("procactor-fork");
  const std::size_t own_spares = reap_orphans("procactor-spare");
  spawned_helper spawned;
  start_spawn_helper(spawned, exec ? std::vector<std::string>{"PROCACTOR_SPAWN=exec"} : std::vector<std::string>{});
  const pid_t helper = spawned.guard.pid;
  const std::vector<int>& actors = spawned.actors;
  for (int pid : actors) CHECK(probe::is_running(pid));
  REQUIRE_FALSE(probe::run_segments(helper).empty());
  // The arena's name is the run's; other segments' names extend it.
  const auto segments = probe::run_segments(helper);
  const std::string run = *std::min_element(segments.begin(), segments.end(),
                                            [](const auto& a, const auto& b) { return a.size() < b.size(); });
  // A clone is called procactor-fork until it has named itself: on a busy
  // machine the guardian may not have run that far yet.
  std::vector<int> guardians;
  CHECK(eventually([&] {
    guardians.clear();
    for (const auto& child : probe::children_of(helper)) {
      if (child.command == "procactor-guard") guardians.push_back(child.pid);
    }
    return guardians.size() == 1;
  }));
  for (const int pid : guardians) CHECK(started_with(pid, "PROCACTOR_GUARDIAN=" + run) == exec);

  REQUIRE(::kill(helper, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  CHECK(WIFSIGNALED(status));

  for (int pid : actors) {
    CAPTURE(pid);
    CHECK(eventually([&] { return gone(pid); }));
  }
  // No later Runtime is started: the guardian alone removes the segments.
  CHECK_MESSAGE(eventually([&] { return probe::run_segments(helper).empty(); }),
                "the dead supervisor's segments are still in /dev/shm");
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
  // Our own Runtime's guardian, fork server and spares are the ones left;
  // the helper's died with it (PR_SET_PDEATHSIG), or finished (its
  // guardian), and were re-parented here.
  CHECK(eventually([&] { return helpers_reaped(own_guardians, own_servers, own_spares); }));
}

TEST_CASE("a supervisor ended by SIGINT or SIGTERM or abort reaps its actors and helpers: none is left to init" *
          doctest::timeout(90)) {
  int sig = SIGINT;
  SUBCASE("SIGINT") {}
  SUBCASE("SIGTERM") { sig = SIGTERM; }
  SUBCASE("SIGABRT (what an uncaught exception ends in)") { sig = SIGABRT; }
  CAPTURE(sig);
  // No core file from the abort (the soft limit only, inherited).
  rlimit core{};
  ::getrlimit(RLIMIT_CORE, &core);
  core.rlim_cur = 0;
  ::setrlimit(RLIMIT_CORE, &core);
  // Orphans come here, not to init, where the check below would not see them.
  int subreaper = 0;
  REQUIRE(::prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0);
  REQUIRE(subreaper == 1);
  spawned_helper spawned;
  start_spawn_helper(spawned);
  const pid_t helper = spawned.guard.pid;
  // Its children: the 3 actors, the fork server, the guardian, the spares.
  std::vector<probe::process_status> children = probe::children_of(helper);
  REQUIRE(children.size() >= 5);

  REQUIRE(::kill(helper, sig) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == sig);
  // What a process leaves when it ends is re-parented at once (here: this
  // test is a subreaper). The supervisor reaped each of its children
  // before it ended, so none came here, alive or a zombie.
  for (const auto& child : children) {
    CAPTURE(child.pid);
    CAPTURE(child.command);
    int child_status = 0;
    const pid_t r = ::waitpid(child.pid, &child_status, WNOHANG);
    CHECK_MESSAGE((r < 0 && errno == ECHILD), "left behind for another process to reap");
    if (r == 0) {
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, nullptr, 0);
    }
  }
  CHECK(probe::run_segments(helper).empty());
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
}

// The supervisor handles an actor's death as soon as the kernel releases the
// actor's life word, early in its exit, and clears its pid then; the zombie
// comes later. A SIGINT in between killed and reaped every recorded actor
// but not that one, which was left to init. Here the window is held open:
// this test traces the actor, so its zombie is not its parent's to reap
// until this test has waited for it.
TEST_CASE("a supervisor ended by SIGINT reaps an actor whose death it handled before the zombie came" *
          doctest::timeout(90)) {
  int subreaper = 0;
  REQUIRE(::prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0);
  REQUIRE(subreaper == 1);
  int out = -1;
  spawned_helper spawned;
  spawned.guard.pid = start_helper("dying", &out);
  const pid_t helper = spawned.guard.pid;
  std::istringstream fields(read_line(out, std::chrono::seconds(30)));
  int reported = 0;
  int victim = 0;
  fields >> reported >> victim;
  REQUIRE(reported == helper);
  REQUIRE(victim > 0);
  if (::ptrace(PTRACE_SEIZE, victim, nullptr, nullptr) != 0) {
    MESSAGE("cannot trace the actor here (" << std::strerror(errno) << "); not run");
    ::close(out);
    return;
  }
  REQUIRE(::kill(victim, SIGKILL) == 0);
  const std::string down = read_line(out, std::chrono::seconds(30));
  ::close(out);
  REQUIRE(down == "down\n");
  // Everything else the helper runs (fork server, guardian): the handler
  // kills and reaps it first, then waits for what is still exiting.
  std::vector<int> others;
  for (const auto& child : probe::children_of(helper)) {
    if (child.pid != victim) others.push_back(child.pid);
  }
  REQUIRE_FALSE(others.empty());
  REQUIRE(::kill(helper, SIGINT) == 0);
  CHECK(eventually([&] {
    return std::none_of(others.begin(), others.end(), [](int pid) { return probe::status_of(pid).pid != 0; });
  }));
  // The helper now waits for the actor it killed last: it has not ended and
  // left the actor (a zombie still held by this tracer) to this subreaper.
  CHECK_MESSAGE(probe::status_of(victim).ppid == helper, "the supervisor ended and left the actor here");
  // Now the zombie is released to its parent, the helper.
  int status = 0;
  REQUIRE(::waitpid(victim, &status, __WALL) == victim);
  CHECK(WIFSIGNALED(status));
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  CHECK(WIFSIGNALED(status));
  const pid_t r = ::waitpid(victim, &status, WNOHANG);
  CHECK_MESSAGE((r < 0 && errno == ECHILD), "the actor was left behind for another process to reap");
  for (int pid : others) {
    if (::waitpid(pid, nullptr, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  CHECK(probe::run_segments(helper).empty());
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
}

// A supervisor SIGKILLed the moment its run's segment appears, before it
// could do anything else: the guardian, started before the segment, removes
// it. Made first, the segment was left for the next start-up's sweep.
TEST_CASE("a supervisor killed as soon as its segment exists leaves no segment behind" * doctest::timeout(120)) {
  const int watch = ::inotify_init1(IN_CLOEXEC);
  REQUIRE(watch >= 0);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } watch_guard{watch};
  REQUIRE(::inotify_add_watch(watch, "/dev/shm", IN_CREATE) >= 0);
  settle_own_helpers();
  const std::size_t own_guardians = reap_orphans("procactor-guard");
  const std::size_t own_servers = reap_orphans("procactor-fork");
  const std::size_t own_spares = reap_orphans("procactor-spare");
  spawned_helper spawned;
  spawned.guard.pid = start_helper("hold", nullptr);
  const pid_t helper = spawned.guard.pid;
  const std::string prefix = "procactor-" + std::to_string(helper) + "-";
  std::string segment;
  alignas(inotify_event) char buffer[4096];
  while (segment.empty()) {
    pollfd p{watch, POLLIN, 0};
    REQUIRE_MESSAGE(::poll(&p, 1, 60'000) == 1, "no segment of the helper appeared in 60 s");
    const ssize_t n = ::read(watch, buffer, sizeof buffer);
    REQUIRE(n > 0);
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0 && std::string(event->name).starts_with(prefix)) segment = event->name;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  // What it runs by then (its guardian, perhaps still called
  // procactor-fork, its fork server, ...) comes here once it is killed:
  // each is waited for and reaped by pid, whatever its name by then.
  const std::vector<probe::process_status> children = probe::children_of(helper);
  REQUIRE(::kill(helper, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  CAPTURE(segment);
  for (const auto& child : children) {
    CAPTURE(child.pid);
    CHECK(eventually([&] { return gone(child.pid); }));
  }
  CHECK_MESSAGE(eventually([&] { return probe::run_segments(helper).empty(); }),
                "the killed supervisor's segment is still in /dev/shm");
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
  // Its guardian and fork server end, and come here to be reaped (this
  // test is a subreaper); this program's own stay. So does its actor when
  // the kill came after it had spawned one (the event is read late on a
  // busy machine): a zombie of this program's for good otherwise.
  CHECK(eventually([&] { return helpers_reaped(own_guardians, own_servers, own_spares); }));
}

// The helper's guardians that still run (a clone has the fork server's
// name until it takes its own).
std::vector<int> live_guardians(pid_t helper) {
  std::vector<int> found;
  for (const auto& child : probe::children_of(helper)) {
    if (child.command == "procactor-guard" && child.state != 'Z') found.push_back(child.pid);
  }
  return found;
}

// A guardian killed from outside left the run without one until the
// supervisor had started another (at its next check, a quarter of a second
// or more later): a kill -9 of the supervisor then left its segment for the
// next start-up's sweep. The fork server removes it too now, so that
// either of the two, killed alone, leaves the other to do it.
TEST_CASE("a guardian and then its supervisor killed back to back leave no segment behind" * doctest::timeout(90)) {
  settle_own_helpers();
  const std::size_t own_guardians = reap_orphans("procactor-guard");
  const std::size_t own_servers = reap_orphans("procactor-fork");
  const std::size_t own_spares = reap_orphans("procactor-spare");
  spawned_helper spawned;
  // With its fork server, whatever this program was started with.
  start_spawn_helper(spawned, {"PROCACTOR_SPAWN=fork"});
  const pid_t helper = spawned.guard.pid;
  REQUIRE_FALSE(probe::run_segments(helper).empty());
  std::vector<int> guardians;
  REQUIRE(eventually([&] { return (guardians = live_guardians(helper)).size() == 1; }));

  // Nothing between the two: the supervisor has no time to start another.
  const std::vector<probe::process_status> children = probe::children_of(helper);
  REQUIRE(::kill(guardians.front(), SIGKILL) == 0);
  REQUIRE(::kill(helper, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  for (const auto& child : children) {
    CAPTURE(child.pid);
    CHECK(eventually([&] { return gone(child.pid); }));
  }
  for (int pid : spawned.actors) {
    CAPTURE(pid);
    CHECK(eventually([&] { return gone(pid); }));
  }
  CHECK_MESSAGE(eventually([&] { return probe::run_segments(helper).empty(); }),
                "the segments of a supervisor killed right after its guardian are still in /dev/shm");
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
  // The killed guardian (a zombie of the helper's) and the fork server,
  // done, come here to be reaped; this program's own helpers stay.
  CHECK(eventually([&] { return helpers_reaped(own_guardians, own_servers, own_spares); }));
}

// Appends what `fd` says to `text` until it holds `needle` (true), or
// `limit` has passed.
bool read_until(int fd, std::string& text, const std::string& needle, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (text.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[512];
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

TEST_CASE("a guardian killed from outside is replaced and the run goes on" * doctest::timeout(90)) {
  settle_own_helpers();
  const std::size_t own_guardians = reap_orphans("procactor-guard");
  const std::size_t own_servers = reap_orphans("procactor-fork");
  const std::size_t own_spares = reap_orphans("procactor-spare");
  bool exec = false;
  SUBCASE("guardian cloned by the fork server") {}
  SUBCASE("guardian exec'd (PROCACTOR_SPAWN=exec)") { exec = true; }
  CAPTURE(exec);
  // The helper's standard input from `to`; its output and its log (on its
  // standard error) into `from`.
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::string path = PROCACTOR_ORPHAN_HELPER;
  std::string mode = "guarded";
  char* argv[] = {path.data(), mode.data(), nullptr};
  std::vector<std::string> entries{exec ? "PROCACTOR_SPAWN=exec" : "PROCACTOR_SPAWN=fork"};
  for (char** e = environ; *e != nullptr; ++e) entries.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  spawned_helper spawned;
  const int rc = posix_spawn(&spawned.guard.pid, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  struct closer {
    int to, from;
    ~closer() {
      ::close(to);
      ::close(from);
    }
  } pipes{in[1], out[0]};
  REQUIRE(rc == 0);
  const pid_t helper = spawned.guard.pid;
  std::string said;
  REQUIRE(read_until(out[0], said, "\n", std::chrono::seconds(30)));
  REQUIRE(std::atoi(said.c_str()) == helper);
  std::vector<int> guardians;
  REQUIRE(eventually([&] { return (guardians = live_guardians(helper)).size() == 1; }));
  const int killed = guardians.front();

  REQUIRE(::kill(killed, SIGKILL) == 0);
  const std::string ended = "the guardian of the run's shared memory (pid " + std::to_string(killed) +
                            ") ended (signal 9 (Killed)): a new one (pid ";
  REQUIRE_MESSAGE(read_until(out[0], said, ended, std::chrono::seconds(30)), said);
  REQUIRE_MESSAGE(read_until(out[0], said, ") takes its place", std::chrono::seconds(30)), said);
  const int replacement = std::atoi(said.c_str() + said.find(ended) + ended.size());
  CHECK(replacement != killed);
  // The new one runs, the old one is reaped (no zombie of it).
  CHECK(eventually([&] { return live_guardians(helper) == std::vector<int>{replacement}; }));
  CHECK(eventually([&] { return probe::status_of(killed).ppid != helper; }));
  // The run goes on: an actor still starts.
  said.clear();
  REQUIRE(::write(in[1], "\n", 1) == 1);
  REQUIRE_MESSAGE(read_until(out[0], said, "spawned ", std::chrono::seconds(30)), said);
  REQUIRE(read_until(out[0], said, "\n", std::chrono::seconds(30)));
  CHECK(std::atoi(said.c_str() + said.find("spawned ") + 8) > 0);

  // And the new guardian does its work. What the helper ran comes here to
  // be reaped (this test is a subreaper).
  const std::vector<probe::process_status> children = probe::children_of(helper);
  REQUIRE(::kill(helper, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  spawned.guard.pid = 0;
  for (const auto& child : children) {
    CAPTURE(child.pid);
    CHECK(eventually([&] { return gone(child.pid); }));
  }
  CHECK_MESSAGE(eventually([&] { return probe::run_segments(helper).empty(); }),
                "the killed supervisor's segments are still in /dev/shm");
  for (const auto& name : probe::run_segments(helper)) probe::remove_segment(name);
  CHECK(eventually([&] { return helpers_reaped(own_guardians, own_servers, own_spares); }));
}

TEST_CASE("a ref used after its Runtime was destroyed says the Runtime is gone" * doctest::timeout(60)) {
  int out = -1;
  const pid_t helper = start_helper("after-destroy", &out);
  const std::string line = read_line(out, std::chrono::seconds(30));
  ::close(out);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  CHECK(WIFEXITED(status));
  CHECK_MESSAGE(line.find("the procactor::Runtime of this process has been destroyed") != std::string::npos, line);
}

// A fork() of the supervising program without exec is a copy with the
// program's memory and descriptors and none of its threads. Its return from
// main destroyed its copy of the Runtime, which closed the original's
// actors and crashed (SIGSEGV), and its exit handler removed the original's
// shared memory; its calls wrote into the original's lanes as a second
// producer. It is not part of the run now: each call fails, saying so, and
// its end leaves the original's run as it was.
TEST_CASE("a fork() copy of the supervising program fails each call and leaves the run alone as it ends" *
          doctest::timeout(90)) {
  int out = -1;
  const pid_t helper = start_helper("fork-exit", &out);
  std::string text;
  for (int i = 0; i < 12 && std::count(text.begin(), text.end(), '\n') < 12; ++i) {
    text += read_line(out, std::chrono::seconds(30));
  }
  ::close(out);
  int status = 0;
  REQUIRE(::waitpid(helper, &status, 0) == helper);
  CAPTURE(text);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string why =
      "not the supervisor: this process is a fork() of the program that runs the procactor::Runtime";
  CHECK(text.find("send: " + why) != std::string::npos);
  CHECK(text.find("get: not the supervisor: cannot wait for this outcome: this process is a fork()") !=
        std::string::npos);
  CHECK(text.find("then: not the supervisor: cannot wait for this outcome: this process is a fork()") !=
        std::string::npos);
  CHECK(text.find("spawn: " + why) != std::string::npos);
  CHECK(text.find("close: " + why) != std::string::npos);
  CHECK(text.find("memory: " + why) != std::string::npos);
  CHECK(text.find("runtime: not the supervisor: a fork() copy of a program that runs a procactor::Runtime cannot "
                  "make one") != std::string::npos);
  CHECK(text.find("options: max_actors 1023\n") != std::string::npos);
  // The runtime's own handlers are taken back, the program's kept.
  CHECK(text.find("SIGHUP: the program's\n") != std::string::npos);
  CHECK(text.find("SIGTERM: default\n") != std::string::npos);
  CHECK(text.find("copy exited 0\n") != std::string::npos);
  // The original's run is whole: its segment, its actor, its task.
  CHECK(text.find("after: segment yes idler running task 49\n") != std::string::npos);
  CHECK(probe::run_segments(helper).empty());
}

// The copy of an actor went on as a second consumer of the actor's mailbox
// (and producer of its replies): it took messages meant for the actor, and
// the actor's asks went unanswered. It ends now at its first step there.
TEST_CASE("a fork() copy of an actor that returns from its handler ends there and the actor goes on" *
          doctest::timeout(120)) {
  actor_scope scope;
  auto forker = scope.spawn<forking::Forker>("forker");
  for (const bool asked : {true, false}) {
    CAPTURE(asked);
    if (asked) {
      REQUIRE(forker.ask<int>(forking::Fork{}, 30s).get() > 0);  // the copy's reply would be its first write
    } else {
      forker.send(forking::Fork{});  // the copy would take the next message
    }
    const int status = forker.ask<int>(forking::Reap{}, 60s).get();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    for (int i = 1; i <= 200; ++i) REQUIRE(forker.ask<int>(forking::Twice{i}, 30s).get() == 2 * i);
  }
  CHECK(runtime().info(forker).restarts == 0);
}

// The copy kept the guardian's pipe, the fork server's socket and the
// arena's lock open: a kill -9 of the program left its helpers and its
// shared memory for as long as the copy lived.
TEST_CASE("a SIGKILLed supervisor leaves nothing behind while a fork() copy of it lives" * doctest::timeout(90)) {
  settle_own_helpers();
  const std::size_t own_guardians = reap_orphans("procactor-guard");
  const std::size_t own_servers = reap_orphans("procactor-fork");
  const std::size_t own_spares = reap_orphans("procactor-spare");
  int out = -1;
  struct killer {
    pid_t pid = 0;
    ~killer() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } helper, copy;
  helper.pid = start_helper("fork-linger", &out);
  const std::string line = read_line(out, std::chrono::seconds(30));
  ::close(out);
  std::istringstream fields(line);
  int reported = 0;
  std::string arena;
  fields >> reported >> copy.pid >> arena;
  REQUIRE(reported == helper.pid);
  REQUIRE(copy.pid > 0);
  REQUIRE(exists(arena));

  REQUIRE(::kill(helper.pid, SIGKILL) == 0);
  REQUIRE(::waitpid(helper.pid, nullptr, 0) == helper.pid);
  helper.pid = 0;
  CHECK_MESSAGE(eventually([&] { return !exists(arena); }), "the killed supervisor's arena is still in /dev/shm");
  CHECK(eventually([&] { return helpers_reaped(own_guardians, own_servers, own_spares); }));
  // All that while the copy lived on (re-parented here: reaped by `copy`).
  CHECK(probe::is_running(copy.pid));
  for (const auto& name : probe::run_segments(reported)) probe::remove_segment(name);
}

TEST_CASE("the start-up sweep removes the segments of a dead supervisor and keeps a live one's in another PID namespace" *
          doctest::timeout(90)) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    MESSAGE("needs root and unshare(1) to make a PID namespace; not run");
    return;
  }
  // The helper runs as pid 2 of a new PID namespace (sh is its pid 1), so
  // its segments are named after a pid that means nothing out here.
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  const std::string script = std::string("exec 2>/dev/null; ") + PROCACTOR_ORPHAN_HELPER + " hold; true";
  std::vector<std::string> args = {"unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", script};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t outside = 0;
  const int rc = posix_spawn(&outside, "/usr/bin/unshare", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  REQUIRE(rc == 0);
  struct reaper {
    pid_t pid;
    ~reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } namespace_guard{outside};

  std::istringstream names(read_line(pipe_fds[0], std::chrono::seconds(30)));
  ::close(pipe_fds[0]);
  std::vector<std::string> inner;
  for (std::string name; names >> name;) inner.push_back(name);
  if (inner.empty()) {
    MESSAGE("unshare could not make a PID namespace here; not run");
    return;
  }
  for (const auto& name : inner) REQUIRE(exists(name));

  // A sweep out here: the inner supervisor lives, so its lock is held.
  const pid_t sweeper = start_helper("sweep", nullptr);
  int status = 0;
  REQUIRE(::waitpid(sweeper, &status, 0) == sweeper);
  CHECK(WIFEXITED(status));
  for (const auto& name : inner) CHECK_MESSAGE(exists(name), name << " of a live supervisor was swept");

  // The whole namespace dies at once (its pid 1 is killed), guardian
  // included: nothing removes the segments but the next sweep.
  REQUIRE(::kill(outside, SIGKILL) == 0);
  REQUIRE(::waitpid(outside, &status, 0) == outside);
  namespace_guard.pid = 0;
  const pid_t second = start_helper("sweep", nullptr);
  REQUIRE(::waitpid(second, &status, 0) == second);
  CHECK(WIFEXITED(status));
  // The namespace's processes may take a moment to be torn down (their lock
  // goes with the last of them): sweep until they are.
  CHECK(eventually([&] {
    const pid_t again = start_helper("sweep", nullptr);
    ::waitpid(again, nullptr, 0);
    for (const auto& name : inner) {
      if (exists(name)) return false;
    }
    return true;
  }));
  for (const auto& name : inner) probe::remove_segment(name);
  // The namespace's sh was unshare's child: it is re-parented here.
  CHECK(eventually([&] { return reap_orphans("sh") == 0; }));
}

}  // TEST_SUITE
