// procactor-bench --callgrind: instructions per message on each side of the
// stream workload, counted by valgrind's callgrind instead of timed, so that
// the figure does not depend on the machine's load or clock.
//
// How: this binary is run twice under
//
//   valgrind --tool=callgrind --trace-children=yes --collect-atstart=no
//            --toggle-collect='*callgrind_send_ticks*'
//            --toggle-collect='procactor::ActorBase::recv*'
//            --toggle-collect='procactor::detail::actor_host::handle*'
//            procactor-bench --callgrind-driver N FIFO
//
// with PROCACTOR_SPAWN=exec (valgrind follows exec into the actor process;
// the fork server's clone is one it cannot follow), once with N messages and
// once with 2N. The driver spawns a Counter actor, sends it a Hold (its
// handler blocks in open() on FIFO), sends the N Ticks (the loop in
// callgrind_send_ticks: encoding and ActorRef::send, nothing else)
// into a lane big enough for all of them, queues a Flush, and only then
// opens FIFO, which lets the consumer go: it handles every Tick back to
// back without ever waiting for the next one, and the sender never waits
// for room. Callgrind collects only inside the toggled functions: the
// sender's loop in the driver process; in the consumer process the two
// calls of the actor's message loop, recv() (commit of the message before,
// then the next one from the mailbox) and handle() (decode, dispatch, the
// handler); the runtime's other threads are never counted.
//
// Each side's instructions per message is (I(2N) - I(N)) / N: what does not
// grow with the number of messages (the Hold, the Flush, the loop's start
// and the idle spin before the actor parks at the end) cancels out.
#pragma once

#include <cstdint>
#include <string>

namespace procactor_bench {

// Default N.
inline constexpr std::uint64_t callgrind_default_messages = 20'000;

// The parent: runs both valgrind runs, prints the figures (a table, or one
// JSON object with `json`), and returns the exit code. Needs valgrind on PATH.
int run_callgrind(std::uint64_t messages, bool json);

// "--callgrind-driver N FIFO": the process run under valgrind. Parsed after
// the runtime has been constructed (the driver needs it).
bool is_callgrind_driver(int argc, char** argv);
std::uint64_t callgrind_driver_messages(char** argv);
std::string callgrind_driver_fifo(char** argv);

}  // namespace procactor_bench
