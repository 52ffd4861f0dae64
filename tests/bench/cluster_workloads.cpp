#include "cluster_workloads.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include "child_process.hpp"

namespace procactor_bench {

namespace {

namespace fs = std::filesystem;

// Next to this binary (build/bin), else the build's path compiled in.
std::string mpi_bench_path() {
  std::error_code ec;
  const fs::path here = fs::read_symlink("/proc/self/exe", ec).parent_path() / "procactor-mpi-bench";
  if (!ec && ::access(here.c_str(), X_OK) == 0) return here.string();
  if (::access(PROCACTOR_BENCH_MPI_BENCH, X_OK) == 0) return PROCACTOR_BENCH_MPI_BENCH;
  throw std::runtime_error("procactor-mpi-bench not found next to procactor-bench nor at " +
                           std::string(PROCACTOR_BENCH_MPI_BENCH));
}

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return text;
    }
  }
}

}  // namespace

std::map<std::string, cross_node_figures> run_mpi_bench(bool quick) {
  const std::string bench = mpi_bench_path();
  // Two ranks of this host, TCP on loopback, as the cluster tests run them;
  // root needs Open MPI's consent.
  std::vector<std::string> args = {"mpirun", "-n", "2", "--bind-to", "none", "--oversubscribe",
                                   "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo",
                                   "--mca", "oob_tcp_if_include", "lo"};
  if (::geteuid() == 0) args.emplace_back("--allow-run-as-root");
  args.push_back(bench);
  args.emplace_back("--json");
  if (quick) args.emplace_back("--quick");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::string text;
  std::optional<exit_status> status;
  {
    auto child = child_process::start("/usr/bin/env", [&] {
      std::vector<std::string> with_env = {"env"};
      with_env.insert(with_env.end(), args.begin(), args.end());
      return with_env;
    }(), pipe_fds[1], true, null_fd);
    ::close(pipe_fds[1]);
    if (null_fd >= 0) ::close(null_fd);
    text = read_all(pipe_fds[0]);
    ::close(pipe_fds[0]);
    status = child.wait_for(std::chrono::minutes(5));
  }
  if (!status || !status->success()) {
    throw std::runtime_error("mpirun ... procactor-mpi-bench " +
                             (status ? status->describe() : std::string("did not finish in 5 minutes")));
  }
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    throw std::runtime_error("procactor-mpi-bench printed no JSON object: " + text.substr(0, 200));
  }
  std::map<std::string, cross_node_figures> figures;
  for (const char* name : {"stream_32", "stream_100", "round_trip_32", "idle_cpu"}) {
    if (!json.contains(name)) throw std::runtime_error(std::string("procactor-mpi-bench reported no ") + name);
    const auto& rounds = json[name]["per_round"];
    figures[name] = {rounds["raw_mpi"].get<std::vector<double>>(), rounds["gateway"].get<std::vector<double>>()};
  }
  return figures;
}

}  // namespace procactor_bench
