// One doctest program, one copy per rank under mpirun: every rank runs the
// same test cases in the same order (each makes its own link, collectively),
// and plays its part by rank. The MPI environment outlives them all.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "cluster_test.hpp"

namespace procactor_cluster_test {
procactor::cluster::environment* mpi = nullptr;
}

int main(int argc, char** argv) {
  procactor::cluster::environment env(argc, argv);
  procactor_cluster_test::mpi = &env;
  doctest::Context context(argc, argv);
  // Rank 0 reports in full; the others only their failures, so the log
  // reads as one run.
  if (env.rank() != 0) context.setOption("minimal", true);
  return context.run();
}
