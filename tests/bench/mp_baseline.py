#!/usr/bin/env python3
"""Python multiprocessing baselines for procactor-bench.

procactor-bench runs this as `python3 mp_baseline.py [options]` and reads the
one JSON object it prints on stdout:

  queue_stream_msg_s         multiprocessing.Queue, one producer process (this
                             one) to one consumer process, msg/s until the
                             consumer has handled every message (median of
                             runs lasting about --stream-target-s each)
  queue_message_bytes        pickled size of one stream message
  pipe_round_trip_us         multiprocessing.Pipe ping-pong, back to back,
                             median µs per round trip
  pipe_round_trip_parked_us  the same with --pause-us of sleep before each
                             round trip
  pipe_round_trip_p90_us, pipe_round_trip_parked_p90_us
                             the 90th percentiles of the same (nearest rank)
  queue_pipeline_msg_s       a chain of Queues: this process, --pipeline-middles
                             forwarding processes and a consumer, msg/s end to
                             end (run lengths as the stream's)
  queue_senders_msg_s        --senders producer processes into one Queue and one
                             consumer process, msg/s until the consumer has
                             handled every message of every producer (run
                             lengths as the stream's)

--measure picks one figure (procactor-bench runs one per round, between
its own runs); the default measures all of them.

The message is the Python twin of the C++ Tick: a tuple of four integers,
pickled by Queue.put and unpacked by the consumer, i.e. serialization and
dispatch, not just the transport. Anything diagnostic goes to stderr.
"""

import argparse
import ctypes
import math
import json
import multiprocessing as mp
import pickle
import signal
import statistics
import sys
import time

PR_SET_PDEATHSIG = 1
READY = "ready"
END_OF_RUN = "end"
QUIT = "quit"


def die_with_parent():
    """A consumer blocked in get() would outlive a SIGKILLed parent forever;
    PR_SET_PDEATHSIG makes the kernel kill it instead."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def tick(seq):
    return (seq, 0x11111111, 0x22222222, 0x33333333)


def queue_consumer(queue, done, senders=1):
    """Counts and sums what arrives; a run ends with the end marker of every
    sender (one, but for the fan-in)."""
    die_with_parent()
    done.put(READY)
    while True:
        count, total, ends = 0, 0, 0
        while ends < senders:
            item = queue.get()
            if item == END_OF_RUN:
                ends += 1
                continue
            if item == QUIT:
                return
            seq, _a, _b, _c = item
            total += seq
            count += 1
        done.put((count, total))


def queue_forwarder(inbox, outbox, ready):
    """A middle stage of the pipeline: every item on, markers included."""
    die_with_parent()
    ready.put(READY)
    while True:
        item = inbox.get()
        if item != END_OF_RUN and item != QUIT:
            # Unpacked and packed again, as a transforming stage would.
            seq, a, b, c = item
            item = (seq, a, b, c)
        outbox.put(item)
        if item == QUIT:
            return


def queue_producer(queue, ready, jobs):
    """One of several senders into one Queue: each job is (first, count)."""
    die_with_parent()
    ready.put(READY)
    while True:
        job = jobs.get()
        if job == QUIT:
            return
        first, count = job
        for seq in range(first, first + count):
            queue.put(tick(seq))
        queue.put(END_OF_RUN)


def measure_queue_senders(ctx, senders, min_messages, max_messages, target_s, warmups, runs):
    """--senders producer processes -> one Queue -> a consumer process."""
    queue = ctx.Queue()
    done = ctx.Queue()
    ready = ctx.Queue()
    jobs = [ctx.Queue() for _ in range(senders)]
    consumer = ctx.Process(target=queue_consumer, args=(queue, done, senders), daemon=True)
    consumer.start()
    producers = [ctx.Process(target=queue_producer, args=(queue, ready, jobs[i]), daemon=True)
                 for i in range(senders)]
    for producer in producers:
        producer.start()
    if done.get() != READY or any(ready.get() != READY for _ in producers):
        raise RuntimeError("senders did not start")

    def send_and_wait(messages):
        # Every sender its share of the sequence numbers, the remainder to
        # the first ones: `messages` in all.
        share, extra = divmod(messages, senders)
        start = time.perf_counter()
        first = 0
        for i, job in enumerate(jobs):
            count = share + (1 if i < extra else 0)
            job.put((first, count))
            first += count
        return run_time(done, start, messages, "the fan-in consumer")

    rate = stream_rate(send_and_wait, min_messages, max_messages, target_s, warmups, runs)
    for job in jobs:
        job.put(QUIT)
    queue.put(QUIT)
    for producer in producers:
        producer.join()
    consumer.join()
    return rate


def run_time(done, start, messages, what):
    """Seconds from `start` until the consumer reports the run, checked:
    every sequence number 0..messages-1 arrived once."""
    count, total = done.get()
    elapsed = time.perf_counter() - start
    if count != messages or total != messages * (messages - 1) // 2:
        raise RuntimeError(what + " lost messages")
    return elapsed


def stream_rate(send_and_wait, min_messages, max_messages, target_s, warmups, runs):
    """Run lengths as procactor-bench's stream_params: a calibration run of
    min_messages, then runs sized to last about target_s."""
    calibration_s = send_and_wait(min_messages)
    wanted = int(min_messages / calibration_s * target_s)
    messages = max(min_messages, min(max_messages, wanted))
    rates = []
    for run in range(warmups + runs):
        elapsed = send_and_wait(messages)
        if run >= warmups:
            rates.append(messages / elapsed)
    return statistics.median(rates)


def measure_queue_pipeline(ctx, middles, min_messages, max_messages, target_s, warmups, runs):
    """This process -> middles forwarders -> a consumer, one Queue per link.
    Run lengths as procactor-bench's stream_params: a calibration run of
    min_messages, then runs sized to last about target_s."""
    links = [ctx.Queue() for _ in range(middles + 1)]
    done = ctx.Queue()
    ready = ctx.Queue()
    consumer = ctx.Process(target=queue_consumer, args=(links[-1], done), daemon=True)
    consumer.start()
    stages = [ctx.Process(target=queue_forwarder, args=(links[i], links[i + 1], ready), daemon=True)
              for i in range(middles)]
    for stage in stages:
        stage.start()
    if done.get() != READY or any(ready.get() != READY for _ in stages):
        raise RuntimeError("pipeline stages did not start")
    source = links[0]

    def send_and_wait(messages):
        start = time.perf_counter()
        for seq in range(messages):
            source.put(tick(seq))
        source.put(END_OF_RUN)
        return run_time(done, start, messages, "the chain of %d forwarding stage(s)" % middles)

    rate = stream_rate(send_and_wait, min_messages, max_messages, target_s, warmups, runs)
    source.put(QUIT)
    for stage in stages:
        stage.join()
    consumer.join()
    return rate


def measure_queue_stream(ctx, min_messages, max_messages, target_s, warmups, runs):
    """This process -> one Queue -> a consumer: the pipeline with no middle."""
    return measure_queue_pipeline(ctx, 0, min_messages, max_messages, target_s, warmups, runs)


def pipe_echo(conn, count):
    die_with_parent()
    conn.send(READY)
    for _ in range(count):
        conn.send(conn.recv())


def measure_pipe_round_trip(ctx, warmups, samples, pause_s):
    here, there = ctx.Pipe()
    echo = ctx.Process(target=pipe_echo, args=(there, warmups + samples), daemon=True)
    echo.start()
    if here.recv() != READY:
        raise RuntimeError("pipe echo did not start")
    times = []
    for i in range(warmups + samples):
        if pause_s > 0:
            time.sleep(pause_s)
        message = tick(i)
        start = time.perf_counter_ns()
        here.send(message)
        reply = here.recv()
        elapsed = time.perf_counter_ns() - start
        if reply != message:
            raise RuntimeError("pipe echo returned the wrong message")
        if i >= warmups:
            times.append(elapsed / 1000.0)
    echo.join()
    times.sort()
    # Nearest rank, as procactor-bench's own percentiles.
    p90 = times[max(1, math.ceil(0.9 * len(times))) - 1]
    return statistics.median(times), p90


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream-min-messages", type=int, default=20_000)
    parser.add_argument("--stream-max-messages", type=int, default=20_000_000)
    parser.add_argument("--stream-target-s", type=float, default=1.0)
    parser.add_argument("--stream-warmups", type=int, default=1)
    parser.add_argument("--stream-runs", type=int, default=5)
    parser.add_argument("--rt-warmups", type=int, default=200)
    parser.add_argument("--rt-samples", type=int, default=20_000)
    parser.add_argument("--parked-warmups", type=int, default=10)
    parser.add_argument("--parked-samples", type=int, default=500)
    parser.add_argument("--pause-us", type=int, default=2000)
    parser.add_argument("--pipeline-middles", type=int, default=2)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--measure", default="all",
                        choices=["all", "stream", "round_trip", "parked", "pipeline", "senders"])
    args = parser.parse_args()
    if args.senders < 1:
        parser.error("--senders must be at least 1")
    wanted = ({"stream", "round_trip", "parked", "pipeline", "senders"} if args.measure == "all"
              else {args.measure})

    # spawn, not fork: the children start from a fresh interpreter, with no
    # copy of a parent's threads (Queue starts a feeder thread) or locks.
    ctx = mp.get_context("spawn")
    result = {
        "python_version": sys.version.split()[0],
        "start_method": "spawn",
        # multiprocessing pickles with the default protocol, as here.
        "queue_message_bytes": len(pickle.dumps(tick(0))),
    }
    stream_args = (args.stream_min_messages, args.stream_max_messages, args.stream_target_s,
                   args.stream_warmups, args.stream_runs)
    if "stream" in wanted:
        result["queue_stream_msg_s"] = measure_queue_stream(ctx, *stream_args)
    if "round_trip" in wanted:
        median, p90 = measure_pipe_round_trip(ctx, args.rt_warmups, args.rt_samples, 0.0)
        result["pipe_round_trip_us"] = median
        result["pipe_round_trip_p90_us"] = p90
    if "parked" in wanted:
        median, p90 = measure_pipe_round_trip(ctx, args.parked_warmups, args.parked_samples,
                                              args.pause_us / 1e6)
        result["pipe_round_trip_parked_us"] = median
        result["pipe_round_trip_parked_p90_us"] = p90
    if "pipeline" in wanted:
        result["queue_pipeline_msg_s"] = measure_queue_pipeline(ctx, args.pipeline_middles, *stream_args)
    if "senders" in wanted:
        result["queue_senders_msg_s"] = measure_queue_senders(ctx, args.senders, *stream_args)
        result["senders"] = args.senders
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
