#!/usr/bin/env python3
"""Restart of a concurrent.futures.ProcessPoolExecutor after kill -9 of its worker.

procactor-bench runs this as `/usr/bin/python3 pool_restart_baseline.py
[options]` and reads the one JSON object it prints on stdout. For each kill:

  a pool of one worker runs a task that keeps it busy (it spins until it is
  killed); once that task is running, the worker gets SIGKILL and the clock
  starts. Then what a program has to do to go on: wait for the pending
  future to fail with BrokenProcessPool, build a new pool, run one task on
  it to completion (it returns the new worker's pid, which must differ from
  the killed one). The clock stops there. The broken pool is shut down after
  the clock has stopped.

Output keys:

  samples_ms     every timed kill, in milliseconds, comma-separated (the
                 benchmark computes its median and percentiles from these,
                 as for procactor)
  median_ms, p90_ms, p99_ms, max_ms, min_ms
                 the same, summarised here for a run by hand (nearest rank)
  kills          how many kills were timed
  start_method   the pool's multiprocessing start method: the platform's
                 default unless --start-method says otherwise
  python_version

Anything diagnostic goes to stderr.
"""

import argparse
import concurrent.futures
import concurrent.futures.process
import ctypes
import json
import math
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time

PR_SET_PDEATHSIG = 1
# A busy task that nobody kills stops by itself after this long.
BUSY_LIMIT_S = 60.0

_started = None


def die_with_parent():
    """A worker spinning in busy() would outlive a SIGKILLed script;
    PR_SET_PDEATHSIG makes the kernel kill it instead."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def worker_init(started):
    global _started
    die_with_parent()
    _started = started


def busy():
    """Keeps the worker busy until it is killed."""
    _started.set()
    deadline = time.monotonic() + BUSY_LIMIT_S
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    return spins


def nearest_rank(sorted_samples, q):
    rank = min(max(math.ceil(q * len(sorted_samples)), 1), len(sorted_samples))
    return sorted_samples[rank - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200, help="timed kills")
    parser.add_argument("--warmups", type=int, default=3, help="kills before those, not timed")
    parser.add_argument("--start-method", default=None,
                        help="multiprocessing start method (default: the platform's)")
    parser.add_argument("--timeout-s", type=float, default=30.0,
                        help="give up when one step takes longer than this")
    args = parser.parse_args()
    if args.kills <= 0:
        parser.error("--kills must be positive")

    ctx = mp.get_context(args.start_method)
    started = ctx.Event()

    def new_pool():
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=worker_init, initargs=(started,))

    pool = new_pool()
    pid = pool.submit(os.getpid).result(timeout=args.timeout_s)
    samples = []
    for kill in range(args.warmups + args.kills):
        started.clear()
        pending = pool.submit(busy)
        if not started.wait(args.timeout_s):
            raise RuntimeError("the busy task did not start")
        os.kill(pid, signal.SIGKILL)
        start = time.perf_counter_ns()
        try:
            pending.result(timeout=args.timeout_s)
            raise RuntimeError("the busy task finished although its worker was killed")
        except concurrent.futures.process.BrokenProcessPool:
            pass
        replacement = new_pool()
        new_pid = replacement.submit(os.getpid).result(timeout=args.timeout_s)
        stop = time.perf_counter_ns()
        if new_pid == pid:
            raise RuntimeError("the new pool's worker has the killed worker's pid")
        if kill >= args.warmups:
            samples.append((stop - start) / 1e6)
        pool.shutdown(wait=True)
        pool, pid = replacement, new_pid
    pool.shutdown(wait=True)

    ordered = sorted(samples)
    result = {
        "python_version": sys.version.split()[0],
        "start_method": ctx.get_start_method(),
        "kills": len(samples),
        "median_ms": statistics.median(ordered),
        "p90_ms": nearest_rank(ordered, 0.90),
        "p99_ms": nearest_rank(ordered, 0.99),
        "max_ms": ordered[-1],
        "min_ms": ordered[0],
        "samples_ms": ",".join("%.6f" % s for s in samples),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
