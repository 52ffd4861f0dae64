// `procactor launch` of a graph placed on several nodes: mpirun starts one
// `procactor node` per node (an MPMD line, one app context each, in
// [cluster] order, so that rank = node), and this process waits for it,
// passing the user's Ctrl-C on as the nodes' stop signals.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "stop_signals.hpp"

namespace procactor::launcher {

namespace {

// Open MPI notices a lost host through the keepalive of its daemons'
// connections: by default after minutes, with these after about 4 s
// (docs/design.md §7a).
const std::vector<std::string> keepalive = {
    "--mca", "oob_tcp_keepalive_time", "1", "--mca", "oob_tcp_keepalive_intvl", "1",
    "--mca", "oob_tcp_keepalive_probes", "2"};

std::vector<std::string> mpirun_line(const Graph& graph, const std::filesystem::path& self,
                                     const std::filesystem::path& file) {
  std::vector<std::string> line = {"mpirun"};
  // mpirun refuses root without this; `procactor launch` as root means it.
  if (::geteuid() == 0) line.emplace_back("--allow-run-as-root");
  // Bound to a core each, two node supervisors on one host would share it
  // (and every actor they start); one rank per host needs no slot count.
  for (const char* arg : {"--bind-to", "none", "--oversubscribe"}) line.emplace_back(arg);
  // A setting of ours that mpi_args sets too is left to mpi_args: mpirun
  // refuses an MCA parameter given twice.
  const auto& args = graph.cluster->mpi_args;
  for (std::size_t i = 0; i + 2 < keepalive.size(); i += 3) {
    const bool overridden = std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
      return arg == keepalive[i + 1];
    });
    if (!overridden) line.insert(line.end(), keepalive.begin() + static_cast<std::ptrdiff_t>(i),
                                 keepalive.begin() + static_cast<std::ptrdiff_t>(i + 3));
  }
  line.insert(line.end(), args.begin(), args.end());
  for (std::size_t i = 0; i < graph.cluster->nodes.size(); ++i) {
    const NodeSpec& node = graph.cluster->nodes[i];
    if (i != 0) line.emplace_back(":");
    for (const std::string& arg :
         {std::string("-np"), std::string("1"), std::string("--host"), node.host, self.string(), std::string("node"),
          std::string("--node"), node.name, file.string()}) {
      line.push_back(arg);
    }
  }
  return line;
}

}  // namespace

int launch_cluster(const LaunchOptions& options, const Graph& graph) {
#ifndef PROCACTOR_WITH_MPI
  (void)options;
  std::cerr << "procactor: error: graph " << graph.name << " is placed on " << graph.cluster->nodes.size()
            << " nodes, and this procactor was built without MPI (PROCACTOR_WITH_MPI=OFF): install openmpi-bin and "
               "libopenmpi-dev and build again\n";
  return exit_usage;
#else
  if (graph.cluster->launcher != "mpirun") {
    std::cerr << "procactor: error: launcher '" << graph.cluster->launcher
              << "' in [cluster] is not supported yet; use launcher = \"mpirun\"\n";
    return exit_usage;
  }
  if (options.detach) {
    std::cerr << "procactor: error: --detach is not supported for a graph on several nodes yet; run it in the "
                 "foreground\n";
    return exit_usage;
  }
  // Every host runs this executable and reads this file at the same paths.
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::filesystem::path file = std::filesystem::absolute(options.file);
  const std::vector<std::string> line = mpirun_line(graph, self, file);
  install_stop_signals();
  const pid_t parent = ::getpid();
  const pid_t mpirun = ::fork();
  if (mpirun < 0) {
    std::cerr << "procactor: error: fork: " << std::strerror(errno) << '\n';
    return exit_failure;
  }
  if (mpirun == 0) {
    // Its own process group: the terminal's Ctrl-C reaches this process
    // only, which passes it on in order. Gone with this process.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    std::vector<char*> argv;
    for (const std::string& arg : line) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::cerr << "procactor: error: cannot run mpirun (" << std::strerror(errno)
              << "): a graph on several nodes needs Open MPI's mpirun on PATH (Debian: openmpi-bin)\n";
    ::_exit(127);
  }
  // Ctrl-C: the first asks every node to stop in order (SIGUSR1, which
  // mpirun passes on), the second to stop now (SIGUSR2), a third ends the
  // job through mpirun itself.
  int asked = 0;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(mpirun, &status, WNOHANG);
    if (done == mpirun) {
      if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? exit_ok : exit_failure;
      std::cerr << "procactor: mpirun ended by signal " << WTERMSIG(status) << '\n';
      return exit_failure;
    }
    pollfd fd{stop_signal_fd(), POLLIN, 0};
    if (::poll(&fd, 1, 100) > 0 && (fd.revents & POLLIN) != 0) {
      char sig = 0;
      (void)!::read(stop_signal_fd(), &sig, 1);
      ++asked;
      const int forward = asked == 1 ? SIGUSR1 : asked == 2 ? SIGUSR2 : SIGTERM;
      std::cout << "procactor | " << (asked == 1 ? "interrupted: stopping the graph on every node (again to force)"
                                                 : asked == 2 ? "stopping now on every node"
                                                              : "ending the MPI job")
                << std::endl;
      ::kill(mpirun, forward);
    }
  }
#endif
}

#ifndef PROCACTOR_WITH_MPI
int run_node(const Graph& graph, const std::string& node) {
  (void)graph;
  std::cerr << "procactor: error: cannot run node " << node
            << ": this procactor was built without MPI (PROCACTOR_WITH_MPI=OFF)\n";
  return exit_usage;
}
#endif

}  // namespace procactor::launcher
