// The control channel of a run: a Unix socket in the run's directory that
// `procactor status`, `stop`, `restart` and `kill` talk to. The requests and
// their replies are in control_protocol.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "control_protocol.hpp"

namespace procactor::launcher {

// Serves every client at once from one thread: a poll loop over all the
// connections, each non-blocking, each with its own deadline. A client that
// stalls mid-line, or never reads its reply, holds only its own connection.
// Requests are answered in the order their lines complete; the handler runs
// on this thread and does no client I/O, so its time is bounded by the run's
// size (a status of 1,000 actors reads 2,000 small /proc files), never by a
// client. Threads per client would buy nothing but a lock around the
// handler and a thread count to bound.
class ControlServer {
 public:
  // Called for every well-formed request but ping (answered here); returns
  // the reply, or throws std::exception, whose what() goes back as "error: ...".
  using handler = std::function<std::string(const ControlRequest& request)>;

  // Limits per connection, so that no client can take the channel from the
  // others: the whole request line within request_deadline, the reply
  // taken within reply_deadline, at most max_connections at once (the
  // oldest still-silent one is dropped to make room for a new one).
  static constexpr std::chrono::seconds request_deadline{10};
  static constexpr std::chrono::seconds reply_deadline{30};
  static constexpr std::size_t max_connections = 64;

  ControlServer(const std::filesystem::path& socket_path, handler on_request);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  void serve();

  std::filesystem::path path_;
  handler on_request_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

// Sends one request line and returns the reply; nullopt when nothing
// listens on the socket, or nothing answers within `limit` (a minute: a
// command that acts on the run waits for it; `ls` only glances).
std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request,
                                           std::chrono::seconds limit = std::chrono::seconds(60));

}  // namespace procactor::launcher
