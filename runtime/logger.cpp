#include "logger.hpp"

#include <pthread.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace procactor::detail {
namespace {

// A hook slower than the runtime logs (it blocks, say) would otherwise make
// the queue grow without end: past this many lines, new ones are counted
// and dropped, and the hook is told how many once it has caught up.
constexpr std::size_t most_queued = 4096;

struct logger_state {
  std::mutex mutex;
  std::condition_variable ready;
  std::condition_variable handed;  // `delivered` moved on
  std::deque<std::pair<std::string, std::string>> lines;
  std::uint64_t offered = 0;    // lines queued or dropped, ever
  std::uint64_t delivered = 0;  // of those, handed to the hook (or told dropped)
  std::size_t dropped = 0;
  bool on = false;
  bool stop = false;
  log_hook hook;
  std::thread thread;
};

// Never destroyed: a program that exits with its Runtime alive leaves the
// thread running, and a std::thread destroyed while it runs would abort.
logger_state& state() {
  static logger_state& s = *new logger_state;
  return s;
}

void deliver(const log_hook& hook, const std::string& who, const std::string& text) noexcept {
  try {
    hook(who, text);
  } catch (...) {
    // A hook that throws loses no line: it goes where it would have gone.
    write_stderr(who, text);
  }
}

void run_logger() {
  pthread_setname_np(pthread_self(), "procactor-log");
  logger_state& s = state();
  std::unique_lock lock(s.mutex);
  for (;;) {
    s.ready.wait(lock, [&] { return s.stop || !s.lines.empty() || s.dropped != 0; });
    if (s.lines.empty() && s.dropped == 0) return;  // stop, with everything handed over
    auto batch = std::move(s.lines);
    s.lines.clear();
    const std::size_t dropped = std::exchange(s.dropped, 0);
    lock.unlock();
    // Outside the lock: a hook that logs through the runtime queues behind.
    for (const auto& [who, text] : batch) deliver(s.hook, who, text);
    if (dropped != 0) {
      deliver(s.hook, "logger", std::to_string(dropped) + " lines were dropped: the logger did not keep up");
    }
    lock.lock();
    s.delivered += batch.size() + dropped;
    s.handed.notify_all();
  }
}

}  // namespace

void write_stderr(std::string_view who, std::string_view text) {
  std::string line = "procactor: ";
  line.append(who).append(": ").append(text).push_back('\n');
  // One write per line so that lines of concurrent processes never interleave.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

void start_logger(log_hook hook) {
  logger_state& s = state();
  std::lock_guard guard(s.mutex);
  if (s.on || !hook) return;
  s.hook = std::move(hook);
  s.stop = false;
  s.on = true;
  s.thread = std::thread(run_logger);
}

void stop_logger() noexcept {
  logger_state& s = state();
  std::thread thread;
  {
    std::lock_guard guard(s.mutex);
    if (!s.on) return;
    s.stop = true;
    thread = std::move(s.thread);
  }
  s.ready.notify_all();
  if (thread.joinable()) thread.join();
  std::lock_guard guard(s.mutex);
  s.on = false;
  s.hook = nullptr;
  s.handed.notify_all();
}

void flush_logger() {
  logger_state& s = state();
  std::unique_lock lock(s.mutex);
  if (!s.on || s.thread.get_id() == std::this_thread::get_id()) return;
  const std::uint64_t target = s.offered;
  s.handed.wait(lock, [&] { return s.delivered >= target || !s.on; });
}

bool offer_to_logger(const std::string& who, const std::string& text) {
  logger_state& s = state();
  {
    std::lock_guard guard(s.mutex);
    if (!s.on || s.stop) return false;
    ++s.offered;
    if (s.lines.size() >= most_queued) {
      ++s.dropped;
      return true;
    }
    s.lines.emplace_back(who, text);
  }
  s.ready.notify_one();
  return true;
}

}  // namespace procactor::detail
