// Baseline: boost::interprocess::message_queue (Boost 1.74), 64-byte
// messages, between this process and a child that is this binary re-executed
// with `--child boost-mq-...`.
//
// Two ways of waiting, so that each procactor figure has a fair opponent:
//   blocking: send()/receive(), which sleep on a process-shared condition
//             variable (a futex) when the queue is full/empty;
//   spin:     try_send()/try_receive() in a loop on both sides, so spin is
//             compared with spin.
// message_queue guards every operation with an interprocess_mutex in shared
// memory. That is fine for a baseline; docs/design.md §3.1 keeps such locks out of
// runtime/ and include/, and this file stays in tests/bench.
//
// Every function throws on failure (the caller reports the figure as null).
#pragma once

#include <cstddef>

#include "bench_config.hpp"
#include "timing.hpp"

namespace procactor_bench {

enum class mq_wait { blocking, spin };

// The issue fixes the baseline's message size.
inline constexpr std::size_t boost_mq_message_bytes = 64;

// One-way stream: this process sends 64-byte messages, run lengths as
// stream_params says; the child receives them all and acknowledges each run
// on a second queue. Figure: msg/s, from the first send to the acknowledgement.
summary boost_mq_stream_msg_per_s(const stream_params& params, mq_wait wait,
                                  std::size_t capacity);

// `senders` child processes send their share of the messages into one
// queue at once; a child consumer acknowledges once it has every sender's
// end marker. Figure: total msg/s, from the first order to the
// acknowledgement.
summary boost_mq_stream_senders_msg_per_s(const stream_params& params, int senders, mq_wait wait,
                                          std::size_t capacity);

// This process sends into a chain of `middles` forwarding children and a
// counting one (one queue per link); the sink acknowledges each run. Figure:
// msg/s end to end.
summary boost_mq_pipeline_msg_per_s(const stream_params& params, int middles, mq_wait wait,
                                    std::size_t capacity);

// Ping-pong: send one message, the child echoes it, each round trip timed on
// its own. With params.pause > 0 this process sleeps before each round trip.
// Figure: µs per round trip.
summary boost_mq_round_trip_us(const round_trip_params& params, mq_wait wait,
                               std::size_t capacity);

// True when argv selects a Boost child mode (argv[1] == "--child").
bool is_boost_mq_child(int argc, char** argv);
// The child's main: returns the process exit code.
int boost_mq_child_main(int argc, char** argv);

}  // namespace procactor_bench
