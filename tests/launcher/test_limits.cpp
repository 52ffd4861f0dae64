// The launcher checks graph files against the runtime's limits without
// linking the runtime's internals; here, at compile time, the two agree.
#include "arena.hpp"
#include "graph.hpp"

static_assert(procactor::launcher::max_instances_per_run == procactor::detail::max_slots - 1,
              "a run's slot table holds max_slots - 1 actors (slot 0 is the supervisor); "
              "graph files must be checked against the same number");
