// Workloads that go through the `procactor` command, as a user would: a graph
// file written to a private temporary directory and `procactor launch FILE`
// run as a child process, its stdout parsed.
//
// Every launch gets PROCACTOR_STATE_DIR (and XDG_RUNTIME_DIR) set inside
// that directory, so its run directory (and control socket) never lands
// among the user's own runs, and
// the directory is removed on every exit path. The launcher and any actors
// it leaves behind are reaped after each launch, and so is its shared memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "bench_config.hpp"
#include "timing.hpp"

namespace procactor_bench {

struct launcher_paths {
  std::string procactor;  // the `procactor` executable
  std::string plugin;     // libprocactor_examples.so
};

// Next to this binary first (<bin>/procactor, <bin>/../lib/libprocactor_examples.so),
// else the build's paths compiled in. Throws std::runtime_error naming what is
// missing when either cannot be found.
launcher_paths locate_launcher();

// A private 0700 directory (mkdtemp), "procactor-bench-<pid>-XXXXXX" in
// $TMPDIR or /tmp, removed with everything in it when this object goes, and
// by the signal handlers of shm_cleanup.hpp on SIGINT/SIGTERM/SIGHUP (one
// at a time is tracked); after a SIGKILL the next start removes it
// (sweep_stale_temp_dirs). Throws std::system_error when it cannot be made.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Removes the private directories of benchmark runs that died without
// removing them (SIGKILL): "procactor-bench-<pid>-*" of a pid that is gone.
// Returns how many.
int sweep_stale_temp_dirs();

struct primes_graph_result {
  double graph_s = 0;              // `procactor launch`, exec to exit
  double launcher_reported_s = 0;  // "graph primes finished in S s" (first spawn to end)
  std::int64_t total = 0;          // the sink's "total: N"
  unsigned replicas = 0;           // PrimeCounters
};

// The primes graph with `replicas` PrimeCounters pinned with cpu = "spread"
// (0, or the number of CPUs: replicas = "auto"). With `nodes` > 1 the
// workers are spread over that many nodes of a [cluster], all this host
// (launched through mpirun; TCP on loopback between the node supervisors).
// The caller checks the total against its serial count. Throws when the
// launch fails.
primes_graph_result launch_primes_graph(const primes_graph_params& params, const launcher_paths& paths,
                                        unsigned replicas, unsigned nodes = 1);

struct launch_ready_result {
  summary ready_ms;  // "N actors ready in X ms", as the launcher prints it
  summary wall_ms;   // exec to exit of `procactor launch`
  int actors = 0;
};

// Throws when a launch fails, prints no ready line, or counts wrongly.
launch_ready_result run_launch_ready(const launch_ready_params& params, const launcher_paths& paths);

}  // namespace procactor_bench
