// procactor-orphan-helper: a supervisor for test_supervisor_death.cpp to kill.
//
//   procactor-orphan-helper spawn   spawns 3 actors, prints
//                                   "<own pid> <actor pid> <actor pid> <actor pid>"
//                                   on stdout, then waits to be killed
//   procactor-orphan-helper hold    prints the name of its arena,
//                                   then waits to be killed
//   procactor-orphan-helper sweep   starts a Runtime (which sweeps the
//                                   segments of dead supervisors) and exits
#include <signal.h>
#include <sys/prctl.h>
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

}  // namespace orphan
PROCACTOR_MESSAGE(orphan::Never);

namespace orphan {

class Idler : public procactor::Actor<Idler, Never> {
 public:
  void on(const Never&) {}
};

}  // namespace orphan
PROCACTOR_ACTOR(orphan::Idler);

int main(int argc, char** argv) {
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
