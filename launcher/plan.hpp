// The dry-run plan: what `procactor launch --dry-run` prints instead of
// starting anything.
#pragma once

#include <string>

#include "graph.hpp"

namespace procactor::launcher {

// One line per route, in file order:
//   source (examples.RangeSource) x1 --round_robin--> worker (examples.PrimeCounter) x2
// (a key_hash route with a key reads `--key_hash(word)-->`), then one line
// `name (type) xN` for each actor no route touches. Then the supervision
// tree, each group's members in start order:
//   supervision, in start order:
//     [supervisor] one_for_one, at most 10 restarts within 1m
//       sink x1 (transient)
//       group 'workers' rest_for_one, at most 3 restarts within 10s
//         worker x2 (transient)
// With a [cluster], then the placement: the cluster's launcher, and for
// each node its host, its instance count and its instances, one line per
// actor in start order:
//   cluster of 2 nodes, launcher mpirun:
//     node n0 (alpha): 2 instances
//       sink.0
//       worker.0
//     node n1 (beta): 1 instance
//       worker.1
// Every line ends in '\n'.
[[nodiscard]] std::string plan_text(const Graph& graph);

}  // namespace procactor::launcher
