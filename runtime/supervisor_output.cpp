// Captured output. Every whole line an actor prints on a captured stream
// goes to the capture callback; stderr lines are also kept (the last 20 of
// the incarnation) for its exit record, and go to the supervisor's own
// stderr when nobody captures.
#include <sys/epoll.h>
#include <unistd.h>

#include <memory>

#include "supervisor.hpp"

namespace procactor::detail {
namespace {

constexpr std::size_t stderr_tail_lines = 20;

}  // namespace

void supervisor::line(slot_id slot, int stream, std::string text) {
  child& c = children_[slot];
  if (stream == 1) {
    {
      std::lock_guard guard(mutex_);
      c.stderr_tail.push_back(text);
      while (c.stderr_tail.size() > stderr_tail_lines) c.stderr_tail.pop_front();
    }
    if (!on_output_) {
      text.push_back('\n');
      std::size_t written = 0;
      while (written < text.size()) {
        const ssize_t n = ::write(STDERR_FILENO, text.data() + written, text.size() - written);
        if (n <= 0) break;
        written += static_cast<std::size_t>(n);
      }
      return;
    }
  }
  if (on_output_) on_output_({c.name, c.options.replica, stream + 1, std::move(text)});
}

void supervisor::read_output(slot_id slot, int stream, bool until_eof) {
  child& c = children_[slot];
  const int fd = c.output[stream];
  if (fd < 0) return;
  // On the heap: a small RLIMIT_STACK (`ulimit -s 64`) is every thread's stack size.
  constexpr std::size_t buffer_size = 65536;
  const auto buffer_memory = std::make_unique_for_overwrite<char[]>(buffer_size);
  char* const buffer = buffer_memory.get();
  for (;;) {
    const ssize_t n = ::read(fd, buffer, buffer_size);
    if (n > 0) {
      std::string& pending = c.partial[stream];
      pending.append(buffer, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
        line(slot, stream, pending.substr(start, end - start));
      }
      pending.erase(0, start);
      if (!until_eof) return;  // level-triggered epoll calls again for the rest
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || until_eof) {
      // The writer is gone: a last line without a newline still counts.
      if (!c.partial[stream].empty()) {
        line(slot, stream, std::move(c.partial[stream]));
        c.partial[stream].clear();
      }
      if (n == 0) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        c.output[stream] = -1;
      }
    }
    return;
  }
}

void supervisor::close_output(slot_id slot) {
  for (int stream = 0; stream < 2; ++stream) {
    read_output(slot, stream, true);
    child& c = children_[slot];
    if (c.output[stream] >= 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.output[stream], nullptr);
      ::close(c.output[stream]);
      c.output[stream] = -1;
    }
  }
}

}  // namespace procactor::detail
