// Cross-node figures (built with MPI): messages between two node
// supervisors through their gateways against raw MPI point to point with
// the same payload and the same transport (procactor-mpi-bench, run under
// mpirun on two ranks of this host over TCP on loopback). The primes graph
// on two nodes is launch_primes_graph's (launcher_workloads.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench_config.hpp"

namespace procactor_bench {

// One workload of procactor-mpi-bench, per round: raw MPI, and the same
// through the gateways.
struct cross_node_figures {
  std::vector<double> raw_mpi;
  std::vector<double> gateway;
};

// Runs `mpirun -n 2 ... procactor-mpi-bench --json [--quick]` once (its
// rounds interleave raw MPI and the gateways) and returns its workloads by
// name: stream_32, stream_100, round_trip_32, idle_cpu. Throws with the
// reason when mpirun or the bench is missing or fails.
std::map<std::string, cross_node_figures> run_mpi_bench(bool quick);

}  // namespace procactor_bench
