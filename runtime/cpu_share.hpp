// Whether spinning for a peer can pay off. A waiter spins (for an answer,
// for the next message) because the peer, running on another CPU, may
// write it any moment. When both are pinned to the same one CPU (two
// actors that `cpu = "spread"` or SpawnOptions::cpu put on one core, or a
// user's taskset), the peer cannot run while the waiter spins: every
// microsecond of the spin delays the very write it waits for. There a hot
// round trip took 62 µs, one side's whole spin each time, against 11 µs
// for Boost's blocking queue. Such a waiter parks at once instead and gives
// the CPU to its peer, which wakes it when it has written.
//
// Only a pinning says so for certain. Two processes free to move that the
// scheduler stacked on one CPU for a moment are left to spin: parking, or
// yielding, for every co-located wait kept such a pair on one CPU for good
// (their hot round trip went from 1 µs to 8-11 µs in procactor-bench),
// where a spin lets the scheduler move one of them.
//
// Each process notes in its slot entry (slot_entry::waits_on) the CPU its
// waiting thread is pinned to, when a wait that may spin begins: a store
// only when it changed, so the peers reading that line keep their copies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "arena.hpp"

namespace procactor::detail {

// The one CPU the calling thread's affinity allows, or -1 when it allows
// several. Read from the kernel at most once in 10 ms per thread (`now` is
// the waiter's clock reading), so a thread pinned meanwhile is seen within
// 10 ms.
[[nodiscard]] int pinned_cpu(std::chrono::steady_clock::time_point now) noexcept;

// `self`'s process begins a wait pinned to `cpu` (-1: not pinned).
inline void note_wait_cpu(slot_entry& self, int cpu) noexcept {
  const std::int32_t noted = cpu < 0 ? 0 : cpu + 1;
  if (self.waits_on.load(std::memory_order_relaxed) != noted) self.waits_on.store(noted, std::memory_order_relaxed);
}

// Whether `peer`'s process waits pinned to `cpu`, the CPU this waiter is
// pinned to: it cannot run while this waiter spins.
[[nodiscard]] inline bool waits_on_cpu(const slot_entry& peer, int cpu) noexcept {
  return cpu >= 0 && peer.waits_on.load(std::memory_order_relaxed) == cpu + 1;
}

}  // namespace procactor::detail
