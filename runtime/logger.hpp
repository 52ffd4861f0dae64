// Options::logger: where the supervising program's log lines go when it is
// set, instead of stderr.
//
// log_line (process.hpp) queues each line, and a thread of its own hands
// them to the hook one at a time, in the order they were logged. So the
// hook never runs on a runtime thread that holds a runtime lock (the
// monitor thread logs a hung actor or a missed stop deadline with the
// supervisor's lock held), need not be
// thread-safe, and a slow hook delays no restart. Only the supervising
// program's process has one: actor processes log to their stderr.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace procactor::detail {

using log_hook = std::function<void(std::string_view who, std::string_view text)>;

// Starts the thread. Made after the fork server: no process forks without
// exec once it has threads.
void start_logger(log_hook hook);
// Hands over what is queued, joins the thread; later lines go to stderr.
void stop_logger() noexcept;
// Returns once every line queued before the call has been handed to the
// hook (at once when there is no thread, or on the logger's own thread).
void flush_logger();
// "procactor: <who>: <text>\n" to stderr in one write(2).
void write_stderr(std::string_view who, std::string_view text);
// Queues a line for the hook; false when there is none (the caller writes
// the line to stderr).
bool offer_to_logger(const std::string& who, const std::string& text);

// The supervisor's hold on the logger: stops it when it goes, also when the
// supervisor's constructor throws after starting it.
class logger_session {
 public:
  logger_session() = default;
  logger_session(const logger_session&) = delete;
  logger_session& operator=(const logger_session&) = delete;
  ~logger_session() {
    if (started_) stop_logger();
  }
  void start(log_hook hook) {
    if (!hook) return;
    start_logger(std::move(hook));
    started_ = true;
  }

 private:
  bool started_ = false;
};

}  // namespace procactor::detail
