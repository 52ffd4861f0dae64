// procactor-orphan-helper: a supervisor for test_supervisor_death.cpp to kill.
//
//   procactor-orphan-helper spawn   spawns 3 actors, prints
//                                   "<own pid> <actor pid> <actor pid> <actor pid>"
//                                   on stdout, then waits to be killed
//   procactor-orphan-helper hold    prints the name of its arena,
//                                   then waits to be killed
//   procactor-orphan-helper sweep   starts a Runtime (which sweeps the
//                                   segments of dead supervisors) and exits
//   procactor-orphan-helper dying   spawns 1 actor that is not restarted
//                                   and monitors it, prints
//                                   "<own pid> <actor pid>", then "down"
//                                   once its death was handled, then waits
//                                   to be killed
//   procactor-orphan-helper guarded spawns 1 actor, prints "<own pid>", then
//                                   for each line on stdin spawns one more
//                                   and prints "spawned <its pid>"; waits to
//                                   be killed at the end of stdin
//   procactor-orphan-helper fork-exit
//                                   spawns 1 actor and a Worker with a task
//                                   in flight, fork()s a copy of itself that
//                                   tries the runtime (printing each error
//                                   on its own line), says what its signal
//                                   handlers are, and returns from main;
//                                   then prints "copy exited <status>" and
//                                   "after: segment <yes|no> idler <state>
//                                   task <value>", and exits
//   procactor-orphan-helper fork-linger
//                                   spawns 1 actor, fork()s a copy of itself
//                                   that sleeps until killed, prints
//                                   "<own pid> <copy pid> <arena>", then
//                                   waits to be killed
//   procactor-orphan-helper shutdown-give-up
//                                   an actor of a group that allows no
//                                   restart crashes during rt.shutdown();
//                                   prints what rt.gave_up() says then
//                                   ("none" when nothing gave up)
#include <linux/futex.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <procactor/procactor.hpp>
#include <thread>

#include "process.hpp"

namespace orphan {

struct Never {
  template <class Archive>
  void serialize(Archive&) {}
};
struct Die {
  template <class Archive>
  void serialize(Archive&) {}
};

}  // namespace orphan
PROCACTOR_MESSAGE(orphan::Never);
PROCACTOR_MESSAGE(orphan::Die);

namespace orphan {

class Idler : public procactor::Actor<Idler, Never> {
 public:
  void on(const Never&) {}
};

class Fragile : public procactor::Actor<Fragile, Die> {
 public:
  void on(const Die&) { std::abort(); }
};

// A task that takes a while: still in flight when the copy is made.
std::int64_t slow_square(std::int64_t x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return x * x;
}

}  // namespace orphan
PROCACTOR_FUNCTION(orphan::slow_square);
PROCACTOR_ACTOR(orphan::Idler);
PROCACTOR_ACTOR(orphan::Fragile);

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "after-destroy") == 0) {
    // A ref used after its Runtime is gone: the error says so.
    procactor::ActorRef idler;
    {
      procactor::Runtime runtime(argc, argv);
      idler = runtime.spawn<orphan::Idler>("idler");
    }
    std::string line;
    try {
      idler.send(orphan::Never{});
      line = "sent\n";
    } catch (const procactor::error& e) {
      line = std::string(procactor::to_string(e.code())) + ": " + e.message() + "\n";
    }
    (void)!::write(STDOUT_FILENO, line.data(), line.size());
    return 0;
  }
  procactor::Runtime runtime(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "hold") == 0) {
    // Names its own arena (its pid is this pid namespace's, which may
    // also name a stale segment of another run), then waits to be killed.
    auto idler = runtime.spawn<orphan::Idler>("idler");
    idler.send(orphan::Never{});
    std::string line = procactor::detail::process::current()->shm().name() + "\n";
    (void)!::write(STDOUT_FILENO, line.data(), line.size());
    for (;;) ::pause();
  }
  auto say = [](const std::string& line) { (void)!::write(STDOUT_FILENO, (line + "\n").data(), line.size() + 1); };
  auto running = [&](auto ref) {
    while (runtime.info(ref).state != procactor::ActorState::running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return ref;
  };
  const std::string arena = procactor::detail::process::current()->shm().name();
  if (argc >= 2 && std::strcmp(argv[1], "fork-exit") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto idler = running(runtime.spawn<orphan::Idler>("idler"));
    procactor::Worker worker(runtime);
    auto task = worker.submit(orphan::slow_square, 7);
    // A handler of the program's own, put in place after the Runtime's.
    struct sigaction own {};
    own.sa_handler = [](int) {};
    sigemptyset(&own.sa_mask);
    sigaction(SIGHUP, &own, nullptr);
    const pid_t copy = ::fork();
    if (copy == 0) {
      // Each call fails at once, saying why; none touches the original's run.
      auto attempt = [&](const char* what, auto&& call) {
        try {
          call();
          say(std::string(what) + ": no error");
        } catch (const procactor::error& e) {
          say(std::string(what) + ": " + std::string(procactor::to_string(e.code())) + ": " + e.message());
        }
      };
      attempt("send", [&] { idler.send(orphan::Never{}); });
      attempt("get", [&] { (void)task.get(); });
      attempt("then", [&] { (void)task.then([](std::int64_t v) { return v; }); });
      attempt("spawn", [&] { (void)runtime.spawn<orphan::Idler>("copied"); });
      attempt("close", [&] { idler.close(); });
      attempt("memory", [&] { (void)runtime.shared_memory_used(); });
      attempt("runtime", [&] { procactor::Runtime own_run(argc, argv); });
      say("options: max_actors " + std::to_string(runtime.options().max_actors));
      struct sigaction now {};
      sigaction(SIGHUP, nullptr, &now);
      say(std::string("SIGHUP: ") + (now.sa_handler == own.sa_handler ? "the program's" : "another"));
      sigaction(SIGTERM, nullptr, &now);
      say(std::string("SIGTERM: ") + (now.sa_handler == SIG_DFL ? "default" : "another"));
      return 0;  // ~Worker, ~Runtime and the exit handlers of the copy
    }
    int status = 0;
    (void)::waitpid(copy, &status, 0);
    say("copy exited " + std::to_string(status));
    const bool segment = ::access(("/dev/shm/" + arena).c_str(), F_OK) == 0;
    idler.send(orphan::Never{});
    say(std::string("after: segment ") + (segment ? "yes" : "no") + " idler " +
        std::string(procactor::to_string(runtime.info(idler).state)) + " task " + std::to_string(task.get()));
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "fork-linger") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto idler = running(runtime.spawn<orphan::Idler>("idler"));
    idler.send(orphan::Never{});
    const pid_t copy = ::fork();
    if (copy == 0) {
      for (;;) ::pause();
    }
    say(std::to_string(::getpid()) + " " + std::to_string(copy) + " " + arena);
    for (;;) ::pause();
  }
  if (argc >= 2 && std::strcmp(argv[1], "shutdown-give-up") == 0) {
    auto group = runtime.group("g", {.max_restarts = 0});
    procactor::SpawnOptions options;
    options.group = group;
    auto fragile = runtime.spawn<orphan::Fragile>("fragile", options);
    // Queued before the shutdown, handled during its drain: the crash
    // takes g over its limit while the runtime shuts down.
    fragile.send(orphan::Die{});
    runtime.shutdown();
    const std::string line = runtime.gave_up().value_or("none") + "\n";
    (void)!::write(STDOUT_FILENO, line.data(), line.size());
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "dying") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    procactor::SpawnOptions options;
    options.restart = procactor::Restart::temporary;
    auto victim = runtime.spawn<orphan::Idler>("victim", options);
    runtime.monitor(victim);
    while (runtime.info(victim).state != procactor::ActorState::running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // And until the life watch waits on its life word (it marks the word
    // FUTEX_WAITERS): only then is its death handled before its zombie,
    // which the test holds; a kill before that was seen only by the pidfd,
    // which the held zombie keeps quiet, and "down" never came (a busy
    // machine). Ten seconds at most: a kernel without futex_waitv never does.
    const std::atomic<std::uint32_t>& life = procactor::detail::process::current()->shm().slot(victim.slot()).life;
    for (int i = 0; i < 10'000 && (life.load() & FUTEX_WAITERS) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::string line = std::to_string(::getpid()) + " " + std::to_string(victim.pid().value_or(-1)) + "\n";
    (void)!::write(STDOUT_FILENO, line.data(), line.size());
    if (runtime.next_down(std::chrono::hours(1))) (void)!::write(STDOUT_FILENO, "down\n", 5);
    for (;;) ::pause();
  }
  if (argc >= 2 && std::strcmp(argv[1], "guarded") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto wait_running = [&](auto ref) {
      while (runtime.info(ref).state != procactor::ActorState::running) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return ref;
    };
    wait_running(runtime.spawn<orphan::Idler>("idler"));
    std::string line = std::to_string(::getpid()) + "\n";
    (void)!::write(STDOUT_FILENO, line.data(), line.size());
    int made = 0;
    for (char c; ::read(STDIN_FILENO, &c, 1) == 1;) {
      if (c != '\n') continue;
      auto more = wait_running(runtime.spawn<orphan::Idler>("more-" + std::to_string(++made)));
      line = "spawned " + std::to_string(more.pid().value_or(-1)) + "\n";
      (void)!::write(STDOUT_FILENO, line.data(), line.size());
    }
    for (;;) ::pause();
  }
  if (argc < 2 || std::strcmp(argv[1], "spawn") != 0) return 0;
  // Never outlive the test that started us, even if it is killed itself.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string line = std::to_string(::getpid());
  for (int i = 0; i < 3; ++i) {
    auto idler = runtime.spawn<orphan::Idler>("idler-" + std::to_string(i));
    while (runtime.info(idler).state != procactor::ActorState::running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    line += " " + std::to_string(idler.pid().value_or(-1));
  }
  line += "\n";
  (void)!::write(STDOUT_FILENO, line.data(), line.size());
  for (;;) ::pause();
}
