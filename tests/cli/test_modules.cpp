// The launcher's modules (launcher/module.hpp): the dashboard's HTTP server
// and a node's MPI gateway are loaded only by the commands that use them,
// so a launch, and every actor forked from it, maps neither; and a module
// that cannot be found is named, with where it was looked for.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"

namespace cli {
namespace {

// The libraries that only the modules bring in.
const std::vector<std::string> module_libraries = {"libprocactor_dashboard.so", "libcpp-httplib.so",
                                                   "libssl.so",                 "libprocactor_mpi.so",
                                                   "libmpi.so",                 "libhwloc.so"};

// Launches `graph` (endless.toml) with `extra` arguments, waits until its 4
// actors run, checks the processes with `check`, then stops it with Ctrl-C.
void launch_and_check(sandbox& box, const fs::path& graph, const std::vector<std::string>& extra,
                      const std::function<void(pid_t launcher, const std::map<std::string, pid_t>&)>& check) {
  std::vector<std::string> args = {"launch"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(graph.string());
  auto launch = box.start(args, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 4 actors ready in ", 120s);
  const auto pids = running_instances(box, "endless", 4);
  check(launch->pid(), pids);
  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  CHECK_MESSAGE(code == 0, launch->out(), launch->err());
  std::vector<pid_t> actors;
  for (const auto& [name, pid] : pids) actors.push_back(pid);
  check_run_left_nothing(launch->pid(), actors);
}

}  // namespace

TEST_CASE("a launch and its actors map no module's libraries until --http asks for the dashboard" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  launch_and_check(box, graph, {}, [](pid_t launcher, const std::map<std::string, pid_t>& pids) {
    for (const std::string& library : module_libraries) {
      CHECK_MESSAGE(!maps_file(launcher, library), "the launcher maps ", library);
      for (const auto& [name, pid] : pids) CHECK_MESSAGE(!maps_file(pid, library), name, " maps ", library);
    }
  });
  // With the dashboard, the launcher loaded its module (before its fork
  // server: the port is bound before --detach) and serves it.
  launch_and_check(box, graph, {"--http", "127.0.0.1:0"}, [](pid_t launcher, const std::map<std::string, pid_t>&) {
    CHECK(maps_file(launcher, "libprocactor_dashboard.so"));
    CHECK(maps_file(launcher, "libcpp-httplib.so"));
    CHECK(!maps_file(launcher, "libmpi.so"));
  });
}

TEST_CASE("a dashboard whose module is not installed is refused with where it was looked for" *
          doctest::timeout(290)) {
  sandbox box;
  // A procactor with no library directory beside it: its RUNPATH still
  // finds libprocactor.so in the build tree, but no module.
  const fs::path bin = box.dir() / "lonely" / "bin";
  fs::create_directories(bin);
  const fs::path copy = bin / "procactor";
  fs::copy_file(procactor_binary(), copy);
  const fs::path graph = box.copy_graph("endless.toml");
  const result launched = box.program({copy.string(), "launch", "--http", "127.0.0.1:0", graph.string()});
  CHECK_MESSAGE(launched.exit_code == 1, launched.out, launched.err);
  const std::string expected = "procactor: cannot serve the dashboard: cannot find libprocactor_dashboard.so (looked in " +
                               (box.dir() / "lonely" / "lib").string();
  CHECK_MESSAGE(launched.err.find(expected) != std::string::npos, launched.err);
  // Refused before anything started: no actor ran, and no run was made.
  CHECK_MESSAGE(launched.out.find(" started (pid ") == std::string::npos, launched.out);
  const result status = box.procactor({"status", "endless"});
  CHECK(status.exit_code == 3);
  CHECK_MESSAGE(status.err.find("no such run 'endless'") != std::string::npos, status.err);
}

// A port in use is found before the run is made: the refused launch leaves
// no run behind, so the runs before it keep their names (a run moved aside
// by each refused launch would push the real ones out of the last ten).
TEST_CASE("a launch whose --http port is in use is refused before it makes a run" * doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("primes_small.toml");
  const result first = box.procactor({"launch", graph.string()}, 240s);
  REQUIRE_MESSAGE(first.exit_code == 0, first.out, first.err);

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string port = std::to_string(ntohs(address.sin_port));

  for (const bool detach : {false, true}) {
    CAPTURE(detach);
    std::vector<std::string> args = {"launch", "--http", "127.0.0.1:" + port, graph.string()};
    if (detach) args.insert(args.begin() + 1, "--detach");
    const result refused = box.procactor(args, 120s);
    CHECK(refused.exit_code == 1);
    CHECK_MESSAGE(refused.err.find("cannot serve the dashboard on 127.0.0.1:" + port + ": Address already in use") !=
                      std::string::npos,
                  refused.err);
    CHECK_MESSAGE(refused.out.find(" started (pid ") == std::string::npos, refused.out);
  }
  ::close(listener);

  // The one run there is, is still the first launch's, under its name.
  const result ls = box.procactor({"ls"});
  CHECK(ls.exit_code == 0);
  const std::vector<std::string> rows = lines_of(ls.out);
  CHECK_MESSAGE(rows.size() == 2, ls.out);
  CHECK_MESSAGE(ls.out.find("\nprimes-small ") != std::string::npos, ls.out);
  CHECK_MESSAGE(ls.out.find("primes-small.1") == std::string::npos, ls.out);
  const result logs = box.procactor({"logs", "primes-small", "sink"});
  CHECK(logs.exit_code == 0);
  CHECK_MESSAGE(logs.out.find("total: ") != std::string::npos, logs.out);
}

}  // namespace cli
