#include "control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <memory>
#include <stdexcept>
#include <variant>
#include <vector>

namespace procactor::launcher {
namespace {

using steady = std::chrono::steady_clock;

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.size() >= sizeof address.sun_path) throw std::runtime_error("socket path too long: " + text);
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

struct connection {
  int fd = -1;
  steady::time_point accepted;
  steady::time_point deadline;  // for the request line, then for the reply
  std::string in;
  std::string out;
  std::size_t sent = 0;
  bool replying = false;
};

}  // namespace

ControlServer::ControlServer(const std::filesystem::path& socket_path, handler on_request)
    : path_(socket_path), on_request_(std::move(on_request)) {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0 || ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("control socket: ") + std::strerror(errno));
  }
  std::filesystem::remove(path_);
  const sockaddr_un address = address_of(path_);
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0) {
    throw std::runtime_error("cannot listen on " + path_.string() + ": " + std::strerror(errno));
  }
  thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
  (void)!::write(stop_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void ControlServer::serve() {
  std::list<connection> clients;
  // What a client sent past its request is read and discarded first: a
  // Unix socket closed with unread input resets its peer, which could then
  // lose the reply it has not read yet.
  const auto drop = [&](std::list<connection>::iterator it) {
    char discard[4096];
    for (int i = 0; i < 16 && ::recv(it->fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(it->fd);
    return clients.erase(it);
  };
  // The reply is queued and sent as far as the socket takes it now; the
  // rest goes out as the client reads.
  const auto reply = [](connection& c, const std::string& text) {
    c.out = text + "\n";
    c.sent = 0;
    c.replying = true;
    c.deadline = steady::now() + reply_deadline;
  };
  const auto answer = [&](connection& c, std::string_view line) {
    std::string text;
    auto parsed = parse_control_request(line);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
      text = "error: " + *error;
    } else if (const auto& request = std::get<ControlRequest>(parsed); request.verb == ControlRequest::Verb::ping) {
      text = "pong";
    } else {
      try {
        text = on_request_(request);
      } catch (const std::exception& e) {
        text = std::string("error: ") + e.what();
      }
    }
    reply(c, text);
  };
  // Returns false once the connection is done with (sent, or broken).
  const auto flush = [](connection& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return false;
  };
  const auto take_input = [&](connection& c) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) {
        // The client closed its side: a last line without its newline is
        // still a request; nothing at all is a client that went away.
        if (c.in.empty()) return false;
        answer(c, c.in);
        return true;
      }
      c.in.append(buffer, static_cast<std::size_t>(n));
      if (const auto end = c.in.find('\n'); end != std::string::npos && end <= max_request_bytes) {
        answer(c, std::string_view(c.in).substr(0, end));
        return true;
      }
      if (c.in.size() > max_request_bytes) {
        reply(c, "error: request longer than " + std::to_string(max_request_bytes) + " bytes");
        return true;
      }
    }
  };

  std::vector<pollfd> fds;
  for (;;) {
    const auto now = steady::now();
    fds.assign({{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    auto next_deadline = steady::time_point::max();
    for (const auto& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
      next_deadline = std::min(next_deadline, c.deadline);
    }
    int timeout_ms = -1;
    if (next_deadline != steady::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - now).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if ((fds[0].revents & POLLIN) != 0) break;

    // Connections first, by their poll slots (2...), before new ones are added.
    std::size_t slot = 2;
    for (auto it = clients.begin(); it != clients.end(); ++slot) {
      const short events = fds[slot].revents;
      bool keep = true;
      if (events != 0) {
        if (it->replying) {
          keep = flush(*it);
        } else {
          keep = take_input(*it) && (!it->replying || flush(*it));
        }
      }
      it = keep ? std::next(it) : drop(it);
    }

    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        if (clients.size() >= max_connections) {
          // Make room: the oldest connection still silent goes, else the
          // oldest reply still unread.
          auto oldest = std::find_if(clients.begin(), clients.end(), [](const connection& c) { return !c.replying; });
          if (oldest == clients.end()) oldest = clients.begin();
          const std::string why = "error: too many connections (" + std::to_string(max_connections) +
                                  "); this one was the oldest\n";
          (void)!::send(oldest->fd, why.data(), why.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          drop(oldest);
        }
        const auto accepted = steady::now();
        clients.push_back({fd, accepted, accepted + request_deadline, {}, {}, 0, false});
      }
    }

    const auto later = steady::now();
    for (auto it = clients.begin(); it != clients.end();) {
      if (later < it->deadline) {
        ++it;
        continue;
      }
      if (it->replying) {
        it = drop(it);  // it never read its reply
        continue;
      }
      reply(*it, "error: no complete request line within " + std::to_string(request_deadline.count()) + " s");
      it = flush(*it) ? std::next(it) : drop(it);
    }
  }
  for (auto& c : clients) ::close(c.fd);
}

std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request,
                                           std::chrono::seconds limit) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un address{};
  try {
    address = address_of(socket_path);
  } catch (const std::exception&) {
    ::close(fd);
    return std::nullopt;
  }
  // A supervisor that is stopped (SIGSTOP) or wedged must not hang the
  // command that asks it something.
  const timeval wait{static_cast<time_t>(limit.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      !write_all(fd, request + "\n")) {
    ::close(fd);
    return std::nullopt;
  }
  std::string reply;
  // On the heap: a small RLIMIT_STACK (`ulimit -s 64`) is every thread's stack size.
  constexpr std::size_t buffer_size = 65536;
  const auto buffer_memory = std::make_unique_for_overwrite<char[]>(buffer_size);
  char* const buffer = buffer_memory.get();
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, buffer_size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (reply.empty()) return std::nullopt;
  if (reply.back() == '\n') reply.pop_back();
  return reply;
}

}  // namespace procactor::launcher
