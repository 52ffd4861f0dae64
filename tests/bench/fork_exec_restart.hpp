// Baselines for restart_latency: the bare minimum of a restart, with no
// runtime at all. A child (this binary re-executed as `procactor-bench
// --child restart-ping PARENT`) writes one byte on a pipe it inherited as
// stdout; it is killed with SIGKILL, reaped, and a new one is started; the
// time runs from the kill to the new child's byte.
//
// Two ways to start it: fork + exec (the baseline), and posix_spawn,
// which is what procactor's supervisor uses (glibc's posix_spawn is a
// CLONE_VM | CLONE_VFORK clone: no copy of the parent's page tables, so it
// costs less the bigger the parent).
//
// procactor's actor processes are this same binary re-executed, so both pay
// the same exec, dynamic linking and static initialisation; what procactor
// adds on top is its supervisor noticing the death, its child attaching to
// the run's shared memory, and the probe's round trip.
#pragma once

#include "bench_config.hpp"
#include "timing.hpp"

namespace procactor_bench {

enum class bare_start { fork_exec, posix_spawn };

// Milliseconds per kill, params.kills timed after params.warmups. Throws on
// failure (the caller reports the figure as null).
summary bare_restart_ms(const restart_params& params, bare_start how);

// True when argv selects the child above: "--child restart-ping PARENT".
// Checked before the Boost children's `--child`, which takes every other mode.
bool is_restart_ping_child(int argc, char** argv);
// The child's main: dies with PARENT, writes one byte to stdout, then waits
// to be killed.
int restart_ping_child_main(int argc, char** argv);

}  // namespace procactor_bench
