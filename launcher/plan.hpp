// The dry-run plan: what `procactor launch --dry-run` prints instead of
// starting anything.
#pragma once

#include <string>

#include "graph.hpp"

namespace procactor::launcher {

// One line per route, in file order:
//   source (examples.RangeSource) x1 --round_robin--> worker (examples.PrimeCounter) x2
// (a key_hash route with a key reads `--key_hash(word)-->`), then one line
// `name (type) xN` for each actor no route touches. Every line ends in '\n'.
[[nodiscard]] std::string plan_text(const Graph& graph);

}  // namespace procactor::launcher
