#include "fork_server.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "procactor/runtime.hpp"
#include "spawn_support.hpp"

namespace procactor::detail {
namespace {

constexpr int max_descriptors = 4;
constexpr std::size_t max_request = 64 * 1024;
constexpr int server_socket = 3;  // where the server keeps its end

struct request_header {
  std::uint32_t environment_bytes;
  std::uint32_t descriptors;
  std::int32_t targets[max_descriptors];
};

// In the new actor process: become what posix_spawn would have made, then
// run the actor (Runtime::run_if_child never returns in an actor process).
[[noreturn]] void become_actor(char* environment, std::size_t length, const int* fds, const std::int32_t* targets,
                               int count) {
  ::close(server_socket);
  ::setpgid(0, 0);  // its own process group, as an exec'd actor has
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int i = 0; i < count; ++i) {
    if (fds[i] != targets[i]) {
      ::dup2(fds[i], targets[i]);
      ::close(fds[i]);
    }
  }
  for (std::size_t at = 0; at < length;) {
    char* entry = environment + at;
    const std::size_t n = std::strlen(entry);
    ::putenv(entry);  // the buffer lives as long as this process
    at += n + 1;
  }
  procactor::Runtime::run_if_child();
  _exit(127);
}

[[noreturn]] void serve(int parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(0);
  prctl(PR_SET_NAME, "procactor-fork");
  set_command_line("procactor-fork-server");
  ::setpgid(0, 0);  // out of the terminal's foreground group: Ctrl-C is the supervisor's
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_DFL);
  ::close_range(server_socket + 1, ~0U, 0);
  static char buffer[max_request];
  for (;;) {
    request_header header{};
    iovec parts[2] = {{&header, sizeof header}, {buffer, sizeof buffer - 1}};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_descriptors)];
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = 2;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(server_socket, &message, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);  // the supervisor is gone or done
    int fds[max_descriptors];
    int count = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const auto k = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k && count < max_descriptors; ++i) std::memcpy(&fds[count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    std::int32_t reply;
    const std::size_t environment = header.environment_bytes;
    if (static_cast<std::size_t>(n) != sizeof header + environment || count != static_cast<int>(header.descriptors)) {
      reply = -EPROTO;
    } else {
      // The actor's parent is the supervisor (CLONE_PARENT): it reaps it,
      // and PR_SET_PDEATHSIG ties the actor to it, not to this server.
      const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
      if (pid == 0) become_actor(buffer, environment, fds, header.targets, count);
      reply = pid > 0 ? static_cast<std::int32_t>(pid) : -errno;
    }
    for (int i = 0; i < count; ++i) ::close(fds[i]);
    while (::send(server_socket, &reply, sizeof reply, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace

fork_server::~fork_server() { stop(); }

bool fork_server::start() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return false;
  const int parent = static_cast<int>(::getpid());
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(ends[0]);
    ::close(ends[1]);
    return false;
  }
  if (pid == 0) {
    if (::dup2(ends[1], server_socket) < 0) _exit(0);
    serve(parent);
  }
  ::close(ends[1]);
  pid_ = pid;
  socket_ = ends[0];
  return true;
}

int fork_server::spawn(const std::vector<std::string>& environment,
                       const std::vector<std::pair<int, int>>& descriptors) {
  if (socket_ < 0) return -ENOTCONN;
  if (descriptors.size() > max_descriptors) return -EINVAL;
  request_header header{};
  std::string bytes;
  for (const auto& entry : environment) bytes.append(entry).push_back('\0');
  if (bytes.size() + 1 > max_request) return -E2BIG;
  header.environment_bytes = static_cast<std::uint32_t>(bytes.size());
  header.descriptors = static_cast<std::uint32_t>(descriptors.size());
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_descriptors)] = {};
  for (std::size_t i = 0; i < descriptors.size(); ++i) header.targets[i] = descriptors[i].second;
  iovec parts[2] = {{&header, sizeof header}, {bytes.data(), bytes.size()}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  if (!descriptors.empty()) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * descriptors.size());
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * descriptors.size());
    for (std::size_t i = 0; i < descriptors.size(); ++i) {
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &descriptors[i].first, sizeof(int));
    }
  }
  ssize_t sent;
  while ((sent = ::sendmsg(socket_, &message, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  std::int32_t reply = 0;
  ssize_t got = -1;
  if (sent >= 0) {
    while ((got = ::recv(socket_, &reply, sizeof reply, 0)) < 0 && errno == EINTR) {
    }
  }
  if (sent < 0 || got != sizeof reply) {
    const int error = errno != 0 ? errno : EPIPE;
    stop();  // the server is gone: the caller falls back to exec
    return -error;
  }
  return reply;
}

void fork_server::stop() noexcept {
  if (socket_ >= 0) ::close(socket_);
  socket_ = -1;
  if (pid_ > 0) {
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

}  // namespace procactor::detail
