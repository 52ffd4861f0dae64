// A valid Graph as the runtime takes it: the library's own option structs,
// filled from the file. Nothing here has a default of its own: what the
// file leaves out keeps the value the library's structs start with.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <procactor/runtime.hpp>

#include "graph.hpp"

namespace procactor::launcher {

// shutdown_timeout, and the root group ([supervisor]) as Options::supervision.
// The launcher adds what depends on the host and the run (arena size, actor
// count, event logging).
[[nodiscard]] procactor::Options run_options(const Graph& graph);

// The instances a route to `target` leads to, by name.
using route_targets = std::function<std::vector<std::string>(const ActorSpec& target)>;

// What every replica of `actor` is spawned with: params, restart type,
// backoff, stall timeout, mailbox capacity, nice, memory limit, routes (to
// every replica of each target, or to what `targets` names: the replicas of
// a run that was scaled). Left to the caller, because they depend on the
// replica or the run: replica, cpu, group (a handle from Runtime::group).
[[nodiscard]] procactor::SpawnOptions spawn_options(const Graph& graph, const ActorSpec& actor,
                                                    const route_targets& targets = {});

// The most each sender's lane into `actor` may grow to: its own
// mailbox_capacity, the graph's, or the runtime's default.
[[nodiscard]] std::uint64_t mailbox_capacity_of(const Graph& graph, const ActorSpec& actor);

// "worker.1": how the launcher names replica `replica` of `actor`.
[[nodiscard]] std::string instance_name(const ActorSpec& actor, std::uint32_t replica);

}  // namespace procactor::launcher
