// procactor-mpi-bench's third column: the same workloads between two actors
// on two nodes, through each node's gateway (runtime/cluster/gateway.hpp),
// as a multi-node graph runs them. Rank 0 runs the driver actor, rank 1 the
// sink; each rank is a node supervisor (a Runtime made before MPI, and a
// gateway on the rank's main thread).
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cluster/mpi_link.hpp"

namespace procactor {
class Runtime;
}

namespace mpibench {

// User and system CPU seconds of this process so far.
inline double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct gateway_figures {
  double stream_32 = 0;    // msg/s, driver to sink, to the driver's last reply
  double stream_100 = 0;   // msg/s
  double round_trip_32 = 0;  // µs, median of asks
  double idle_cpu = 0;     // CPU share of this rank's node process while idle
};

class through_gateways {
 public:
  // Collective: every rank makes it at the same point. `rt` was made before
  // MPI was initialised.
  // `spin`: the gateways never sleep (gateway_spin = true in a graph file).
  through_gateways(procactor::Runtime& rt, procactor::cluster::environment& env, bool spin);
  ~through_gateways();
  through_gateways(const through_gateways&) = delete;
  through_gateways& operator=(const through_gateways&) = delete;

  // One round of every workload (collective): the figures on rank 0, and
  // on each rank its own idle share.
  gateway_figures round(int round, int stream_messages, int round_trips, double idle_seconds);
  // Closes the gateways' link (collective).
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mpibench
