// The timers of one process (procactor/timer.hpp): a queue by due time and
// one thread that sends each message when it is due.
//
// The thread starts with the first timer, never before: an actor process
// that sets none has no extra thread, and the fork server, which forks
// actors, never has a process object at all. It sends through
// process::write like any thread of the process (the lane lock orders it
// with the others), never waits for room (a full lane is tried again later,
// or the tick skipped), so it cannot hang a process's exit, and it is
// joined by stop(): at the end of the Runtime in the supervising program,
// and in an actor as soon as the actor host sees its mailbox closed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "mailbox.hpp"
#include "procactor/detail/core.hpp"

namespace procactor::detail {

class process;

enum class timer_status : std::uint8_t {
  armed,      // waiting for its due time (or to try a full lane again)
  fired,      // a one-shot that sent, or a timer whose target is closed or gone
  cancelled,  // by Timer::cancel
  stopped,    // the process's timers ended (the actor is stopping, the Runtime ends)
};

struct timer_state {
  std::atomic<timer_status> status{timer_status::armed};
  slot_id target = no_slot;
  type_id type = 0;
  std::vector<std::byte> payload;
  steady::duration interval{};  // zero: one-shot
  // The rest is the timer thread's, under timer_service::mutex_.
  steady::time_point due{};
  steady::time_point give_up{};  // a one-shot on a full lane: tried until then
  steady::duration retry{};      // and waits this long between tries
  bool complained = false;       // a periodic timer logs one failure, not one per tick
};

class timer_service {
 public:
  explicit timer_service(process& p);
  ~timer_service();
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;

  // After stop(), a timer is returned already stopped: it never sends.
  std::shared_ptr<timer_state> start(slot_id target, type_id type, std::span<const std::byte> payload,
                                     steady::duration delay, steady::duration interval);
  bool cancel(timer_state& state);
  // Ends every timer and joins the thread; for good. Idempotent.
  void stop();

 private:
  struct entry {
    steady::time_point due;
    std::uint64_t order;  // timers due at the same moment go in the order they were set
    std::shared_ptr<timer_state> state;
  };
  struct later {
    bool operator()(const entry& a, const entry& b) const noexcept {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };

  void loop();
  void fire(entry e, steady::time_point now);     // with mutex_ held
  void push(std::shared_ptr<timer_state> state);  // with mutex_ held
  void stop_locked();  // with mutex_ held
  void compact();      // with mutex_ held

  process& process_;
  std::string who_;  // for log lines: this process's actor, or "supervisor"
  // In an actor process, its own mailbox: once it is closed (or stopping),
  // no timer sends any more, whichever host loop is running.
  const mailbox* own_box_ = nullptr;
  std::mutex mutex_;  // held by the thread while it sends: cancel() waits a send out
  std::condition_variable wake_;
  std::vector<entry> queue_;  // a heap by `later`
  std::uint64_t next_order_ = 0;
  std::size_t cancelled_queued_ = 0;  // cancelled timers still in queue_
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace procactor::detail
