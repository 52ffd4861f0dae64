// The early notice of an actor's death (runtime/life_watch.hpp), through
// real processes: the kernel releases the robust `life` word of a process
// made the way the fork server makes actors, as its exit begins, and
// /proc/PID/stat then already has the status the exit will have; a process
// forked by glibc keeps glibc's robust list and is left to its pidfd. And
// through the runtime: whatever way an actor ends (a signal, an exit code
// of its own, with a second thread), its exit record has the kernel's
// status, it is restarted, and its zombie is reaped while the run goes on.
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "futex.hpp"
#include "life_watch.hpp"
#include "support.hpp"
#include "supervision_actors.hpp"

using namespace itest;
using procactor::ActorState;
namespace detail = procactor::detail;

namespace {

// Shared with the child: the life word, its bell, what hold_life answered
// (1 held, 2 refused) and what the child is told to do (1 wait to be
// killed, 2 exit with code 3).
struct words {
  std::atomic<std::uint32_t> life{0};
  std::atomic<std::uint32_t> bell{0};
  std::atomic<std::uint32_t> held{0};
  std::atomic<std::uint32_t> go{0};
};

words* shared_words() {
  void* p = ::mmap(nullptr, sizeof(words), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  return new (p) words;
}

// Sleeps on `word` until `done` holds for its value: each wake-up or
// second looks again, and a value that is already done ends it at once.
template <class Done>
bool wait_word(std::atomic<std::uint32_t>& word, Done done) {
  return eventually([&] {
    const std::uint32_t now = word.load();
    if (done(now)) return true;
    detail::futex_wait(word, now, std::chrono::seconds(1));
    return done(word.load());
  }, 60s);
}

// The child's side: only system calls and atomics, as after any fork of a
// threaded program.
[[noreturn]] void child_body(words* w) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that fails leaves no child behind
  w->held.store(detail::hold_life(w->life, w->bell) ? 1 : 2);
  detail::futex_wake(w->held, 1);
  while (w->go.load() == 0) detail::futex_wait(w->go, 0, std::chrono::seconds(1));
  if (w->go.load() == 2) ::syscall(SYS_exit_group, 3);
  for (;;) ::pause();
}

// A child of the test, killed and reaped on the way out of a test case
// that failed before its own reap: no zombie outlives the case.
struct child {
  pid_t pid;
  explicit child(pid_t p) : pid(p) {}
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

// A child made as the fork server makes actors: a raw clone, after which
// the kernel has no robust list for it. Returns once it holds its word,
// armed (FUTEX_WAITERS) as the supervisor's watcher arms it.
void raw_child_holding(words* w, child& c) {
  const long pid = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) child_body(w);
  REQUIRE(pid > 0);
  c.pid = static_cast<pid_t>(pid);
  REQUIRE(wait_word(w->held, [](std::uint32_t v) { return v != 0; }));
  REQUIRE(w->held.load() == 1);
  CHECK(w->bell.load() == 1);
  std::uint32_t value = w->life.load();
  CHECK(value == static_cast<std::uint32_t>(pid));  // its one thread's id is its pid
  REQUIRE(w->life.compare_exchange_strong(value, value | FUTEX_WAITERS));
}

// Sleeps on the armed word until the kernel says its holder died. The
// kernel may have said so already: the kill and the exit can both be done
// before the first look.
std::uint32_t wait_owner_died(words* w) {
  REQUIRE(wait_word(w->life, [](std::uint32_t v) { return (v & FUTEX_OWNER_DIED) != 0; }));
  return w->life.load();
}

siginfo_t reap(child& c) {
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED) == 0);
  c.pid = 0;
  return info;
}

}  // namespace

TEST_SUITE("life watch") {

TEST_CASE("a SIGKILLed process's robust life word says so before it is reaped, with the status to come") {
  words* w = shared_words();
  child c{0};
  raw_child_holding(w, c);
  const pid_t pid = c.pid;
  REQUIRE(::kill(pid, SIGKILL) == 0);
  const std::uint32_t after = wait_owner_died(w);
  CHECK((after & FUTEX_OWNER_DIED) != 0);
  CHECK((after & FUTEX_TID_MASK) == 0);
  // Not reaped yet (this test is its parent and has not waited): whether
  // its exit still runs or it is a zombie, the status is there.
  const detail::exit_preview preview = detail::preview_exit(pid);
  CHECK(WIFSIGNALED(preview.status));
  CHECK(WTERMSIG(preview.status) == SIGKILL);
  CHECK(preview.threads == 1);
  const siginfo_t info = reap(c);
  CHECK(info.si_code == CLD_KILLED);
  CHECK(info.si_status == SIGKILL);
  // Reaped, nothing is left to read.
  CHECK(detail::preview_exit(pid).status == 0);
  ::munmap(w, sizeof(words));
}

TEST_CASE("an exit code of the process's own is in the preview before the reap") {
  words* w = shared_words();
  child c{0};
  raw_child_holding(w, c);
  const pid_t pid = c.pid;
  w->go.store(2);
  detail::futex_wake(w->go, 1);
  CHECK((wait_owner_died(w) & FUTEX_OWNER_DIED) != 0);
  const detail::exit_preview preview = detail::preview_exit(pid);
  CHECK(WIFEXITED(preview.status));
  CHECK(WEXITSTATUS(preview.status) == 3);
  const siginfo_t info = reap(c);
  CHECK(info.si_code == CLD_EXITED);
  CHECK(info.si_status == 3);
  ::munmap(w, sizeof(words));
}

TEST_CASE("a process forked by glibc keeps glibc's robust list: no life word, its pidfd tells") {
  words* w = shared_words();
  child c{::fork()};
  if (c.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    w->held.store(detail::hold_life(w->life, w->bell) ? 1 : 2);
    ::_exit(0);
  }
  REQUIRE(c.pid > 0);
  const siginfo_t info = reap(c);
  CHECK(info.si_status == 0);
  CHECK(w->held.load() == 2);
  CHECK(w->life.load() == 0);
  CHECK(w->bell.load() == 0);
  ::munmap(w, sizeof(words));
}

TEST_CASE("an actor's exit record has the kernel's status however it ends, and its zombie is reaped" *
          doctest::timeout(120)) {
  actor_scope scope;
  procactor::SpawnOptions options;
  options.restart = procactor::Restart::permanent;
  const auto m = scope.spawn<supervision::Member>("ending", options);
  struct way {
    const char* what;
    supervision::Quit quit;
    int exit_code;
    int signal;
  };
  // A signal, an exit code, and an exit code with a second thread running
  // (no early notice: its pidfd tells).
  const way ways[] = {{"SIGKILL", {0, false, 0}, -1, SIGKILL},
                      {"_exit(3)", {3, false, 0}, 3, 0},
                      {"_exit(4) beside a second thread", {4, true, 0}, 4, 0}};
  std::uint32_t restarts = 0;
  for (const way& w : ways) {
    CAPTURE(w.what);
    const int pid = m.ask<int>(supervision::Pid{}, 30s).get();
    if (w.signal != 0) {
      REQUIRE(::kill(pid, w.signal) == 0);
    } else {
      supervision::Quit quit = w.quit;
      quit.pid = pid;
      m.send(quit);
    }
    ++restarts;
    const bool restarted = eventually([&] {
      const auto info = runtime().info(m);
      return info.restarts == restarts && info.state == ActorState::running && info.exits.size() == restarts;
    }, 60s);
    if (!restarted) {
      const auto info = runtime().info(m);
      MESSAGE("restarts " << info.restarts << " exits " << info.exits.size() << " state " << static_cast<int>(info.state));
      for (const auto& e : info.exits) MESSAGE(e.how << " | " << e.cause << " | " << e.uptime.count() << " ms | " << e.stderr_tail.size());
      for (const auto& e : info.exits) for (const auto& l : e.stderr_tail) MESSAGE(l);
    }
    REQUIRE(restarted);
    const auto exit = runtime().info(m).exits.back();
    CHECK(exit.exit_code == w.exit_code);
    CHECK(exit.signal == w.signal);
    CHECK(exit.cause == "crashed");
    // The old process is gone from the process table, not left a zombie.
    CHECK(eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; }, 60s));
    CHECK(m.ask<int>(supervision::Pid{}, 30s).get() != pid);
  }
}

}  // TEST_SUITE
