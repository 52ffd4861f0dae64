// The control channel: one request line over the run's Unix socket, one
// reply (text until the server closes). Requests:
//   status                  -> a JSON array, one object per actor instance
//   stop [TIMEOUT_MS]       -> "ok": the graph stops in order
//   restart NAME[.N]        -> "ok" or "error: ..."
//   kill NAME[.N] SIGNAL    -> "ok" or "error: ..."
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace procactor::launcher {

class ControlServer {
 public:
  using handler = std::function<std::string(const std::string& request)>;

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

// Sends one request; nullopt when nothing listens on the socket.
std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request);

}  // namespace procactor::launcher
