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
#include <string_view>

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

// The answer to a request: the actor's pid or -errno, and the pid of a
// child of the supervisor's to reap (a spare that died unused), or 0.
struct fork_reply {
  std::int32_t pid;
  std::int32_t reap;
};

// What a new child of the server does first, whether it becomes an actor at
// once or waits as the spare: what posix_spawn would have made of it. Its
// parent is the supervisor (CLONE_PARENT); it dies with it.
void become_child(int parent) {
  ::close(server_socket);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(1);
  ::setpgid(0, 0);  // its own process group, as an exec'd actor has
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// A request as it came: the header, the environment after it, the
// descriptors it carried (received close-on-exec).
struct request {
  request_header header{};
  std::size_t environment = 0;
  int fds[max_descriptors] = {};
  int count = 0;
};

// Reads one request from `fd` into `buffer`: 0 at EOF, -errno, or 1.
int receive(int fd, request& r, char* buffer) {
  iovec parts[2] = {{&r.header, sizeof r.header}, {buffer, max_request - 1}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_descriptors)];
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return n == 0 ? 0 : -errno;
  r.count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const auto k = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k && r.count < max_descriptors; ++i) {
      std::memcpy(&r.fds[r.count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  r.environment = r.header.environment_bytes;
  if (static_cast<std::size_t>(n) != sizeof r.header + r.environment ||
      r.count != static_cast<int>(r.header.descriptors)) {
    for (int i = 0; i < r.count; ++i) ::close(r.fds[i]);
    r.count = 0;
    return -EPROTO;
  }
  return 1;
}

// Sends `r` (its environment in `buffer`) on `fd`: 0 or -errno.
int forward(int fd, const request& r, char* buffer) {
  iovec parts[2] = {{const_cast<request_header*>(&r.header), sizeof r.header}, {buffer, r.environment}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_descriptors)] = {};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  if (r.count > 0) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<std::size_t>(r.count));
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * static_cast<std::size_t>(r.count));
    std::memcpy(CMSG_DATA(c), r.fds, sizeof(int) * static_cast<std::size_t>(r.count));
  }
  while (::sendmsg(fd, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

// In the new actor process: its descriptors and environment, then the
// actor (Runtime::run_if_child never returns in an actor process).
[[noreturn]] void become_actor(char* environment, const request& r) {
  for (int i = 0; i < r.count; ++i) {
    if (r.fds[i] != r.header.targets[i]) {
      ::dup2(r.fds[i], r.header.targets[i]);
      ::close(r.fds[i]);
    }
  }
  for (std::size_t at = 0; at < r.environment;) {
    char* entry = environment + at;
    const std::size_t n = std::strlen(entry);
    ::putenv(entry);  // the buffer lives as long as this process
    at += n + 1;
  }
  procactor::Runtime::run_if_child();
  _exit(127);
}

// The run the supervisor's requests name (PROCACTOR_RUN): a spare made
// after the first request opens that run's shared memory while it waits.
char g_run[256];

void remember_run(const char* environment, std::size_t length) {
  constexpr std::string_view key = "PROCACTOR_RUN=";
  for (std::size_t at = 0; at < length;) {
    const std::string_view entry(environment + at);
    if (entry.starts_with(key) && entry.size() - key.size() < sizeof g_run) {
      std::memcpy(g_run, entry.data() + key.size(), entry.size() - key.size());
      g_run[entry.size() - key.size()] = '\0';
      return;
    }
    at += entry.size() + 1;
  }
}

// The spare: a child made ahead of need, already what become_child makes
// it, that waits for the one request it will serve. A restart then costs
// no fork on its path. It exits when the server closes its end.
[[noreturn]] void run_spare(int parent, int end) {
  become_child(parent);
  prctl(PR_SET_NAME, "procactor-spare");
  set_command_line("procactor-spare");
  prepare_actor_process(g_run);
  static char buffer[max_request];
  request r;
  if (receive(end, r, buffer) != 1) _exit(0);
  ::close(end);
  become_actor(buffer, r);
}

struct spare {
  long pid = -1;
  int socket = -1;
};

spare make_spare(int parent) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return {};
  const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) {
    ::close(ends[0]);
    run_spare(parent, ends[1]);
  }
  ::close(ends[1]);
  if (pid < 0) {
    ::close(ends[0]);
    return {};
  }
  return {pid, ends[0]};
}

void send_reply(const fork_reply& reply) {
  while (::send(server_socket, &reply, sizeof reply, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
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
  spare ready = make_spare(parent);
  for (;;) {
    request r;
    const int got = receive(server_socket, r, buffer);
    if (got == 0 || (got < 0 && got != -EPROTO)) {
      // The supervisor is done: the spare goes, and the supervisor, whose
      // child it is, learns which pid to reap.
      if (ready.socket >= 0) ::close(ready.socket);
      send_reply({0, static_cast<std::int32_t>(ready.pid > 0 ? ready.pid : 0)});
      _exit(0);
    }
    fork_reply reply{-EPROTO, 0};
    if (got == 1) {
      remember_run(buffer, r.environment);
      if (ready.pid > 0 && forward(ready.socket, r, buffer) == 0) {
        reply.pid = static_cast<std::int32_t>(ready.pid);
      } else {
        // No spare, or it died (killed from outside): fork one now. A dead
        // spare is the supervisor's child; it reaps it.
        if (ready.pid > 0) reply.reap = static_cast<std::int32_t>(ready.pid);
        const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
        if (pid == 0) {
          become_child(parent);
          become_actor(buffer, r);
        }
        reply.pid = pid > 0 ? static_cast<std::int32_t>(pid) : -errno;
      }
      if (ready.socket >= 0) ::close(ready.socket);
      ready = {};
    }
    for (int i = 0; i < r.count; ++i) ::close(r.fds[i]);
    send_reply(reply);
    // The next spare is made once the supervisor has its answer: off the
    // path of this start.
    if (ready.pid <= 0) ready = make_spare(parent);
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
  fork_reply reply{};
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
  if (reply.reap > 0) reap(reply.reap);
  return reply.pid;
}

void fork_server::reap(int pid) noexcept {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void fork_server::stop() noexcept {
  if (socket_ >= 0) {
    // The server answers the end of requests with the pid of its spare,
    // this process's child, to reap.
    ::shutdown(socket_, SHUT_WR);
    fork_reply last{};
    ssize_t got;
    while ((got = ::recv(socket_, &last, sizeof last, 0)) < 0 && errno == EINTR) {
    }
    ::close(socket_);
    if (got == sizeof last && last.reap > 0) reap(last.reap);
  }
  socket_ = -1;
  if (pid_ > 0) {
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

}  // namespace procactor::detail
