// What a run of a graph needs of this host, worked out and checked before
// anything starts, so that a launch fails with a reason instead of part-way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "graph.hpp"

namespace procactor::launcher {

// Every actor maps the whole arena: past this, a graph's address space (and
// its worst case in /dev/shm) is no longer a plan but a typo.
inline constexpr std::uint64_t max_arena_bytes = std::uint64_t{1} << 40U;

// Replicas of every actor added up.
[[nodiscard]] std::size_t instance_count(const Graph& graph);

// The most shared memory the graph's mailboxes can grow to, for
// Options::arena_size. Saturates rather than wraps. parse_graph() refuses a
// graph for which it passes max_arena_bytes.
[[nodiscard]] std::uint64_t arena_size_for(const Graph& graph);

// The part of arena_size_for() that `actor`'s instances take.
[[nodiscard]] std::uint64_t mailbox_bytes_of(const Graph& graph, const ActorSpec& actor);

// The open files a supervisor of `instances` actors needs: a pidfd and two
// output pipes per actor, and the log files of the chatty ones.
[[nodiscard]] std::uint64_t open_files_needed(std::size_t instances);

// False, with the reason on stderr, when the host cannot hold the run: too
// few open files allowed.
[[nodiscard]] bool host_allows(const Graph& graph, std::size_t instances);

}  // namespace procactor::launcher
