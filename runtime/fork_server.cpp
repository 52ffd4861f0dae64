#include "fork_server.hpp"

#include <fcntl.h>
#include <poll.h>
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
#include <span>
#include <string_view>

#include "exit_paths.hpp"
#include "guardian.hpp"
#include "life_watch.hpp"
#include "procactor/runtime.hpp"
#include "process.hpp"
#include "spawn_support.hpp"

namespace procactor::detail {
namespace {

constexpr int max_descriptors = 4;
constexpr std::size_t max_request = 64 * 1024;
constexpr int server_socket = 3;  // where the server keeps its end
// How long the server leaves the machine to a start it just made possible
// before it forks the next spare: on two cores the fork would otherwise
// take the CPU the new actor, or the caller waiting for its answer, needs.
// Cut short by the next request.
constexpr int spare_delay_ms = 1;

enum request_kind : std::uint32_t {
  become = 1,         // to the server: clone a child that becomes this actor; to a spare: become it
  make_spare = 2,     // to the server: fork a spare and pass its socket back
  make_guardian = 3,  // to the server: clone the run's guardian (guardian.hpp)
  // To the server: the supervisor stops it. Its socket's end without this
  // is the supervisor's death (serve).
  quit = 4,
};

struct request_header {
  std::uint32_t kind;
  std::uint32_t environment_bytes;
  std::uint32_t descriptors;
  std::int32_t targets[max_descriptors];
};

// The server's answer: the pid of the child it made, or -errno. The answer
// to make_spare carries the spare's socket.
struct fork_reply {
  std::int32_t pid;
};

// A child of the server whose parent is the supervisor (CLONE_PARENT), as
// an exec'd one's is: it reaps it and holds its pidfd. fork()'s return.
long clone_for_supervisor() { return ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0); }

// In a new child: no signal blocked, as after an exec. The dispositions are
// the server's: the defaults, and the crash handlers (serve() sets them
// once).
void unblock_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// What a new child of the server does first, whether it becomes an actor at
// once or waits as the spare: what posix_spawn would have made of it. It
// dies with the supervisor.
void become_child(int parent) {
  ::close(server_socket);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(1);
  unblock_signals();
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

// Sends `data` on `fd` with `fds` attached: 0 or -errno.
int send_with_descriptors(int fd, std::span<const iovec> data, std::span<const int> fds) {
  if (fds.size() > max_descriptors) return -EINVAL;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_descriptors)] = {};
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(data.data());
  message.msg_iovlen = data.size();
  if (!fds.empty()) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    if (c == nullptr) return -EINVAL;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  while (::sendmsg(fd, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return -errno;
  }
  return 0;
}

// In the new actor process: its descriptors and environment, then the
// actor (Runtime::run_if_child never returns in an actor process).
[[noreturn]] void become_actor(char* environment, const request& r) {
  // Its own process group, as an exec'd actor has (the supervisor sets it
  // too). A spare stays in the server's until here, so that one kill of
  // that group takes the server and every spare it made, also one whose
  // pid the supervisor has not been told yet (exit_paths.cpp).
  ::setpgid(0, 0);
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

// The run the supervisor's requests name (PROCACTOR_RUN): a spare opens
// that run's shared memory while it waits.
char g_run[256];

// True when it names a run other than the one remembered. g_run is written
// only then: after each fork, a page the server writes again is one more
// copy-on-write fault, in the process every start waits on.
bool remember_run(const char* environment, std::size_t length) {
  constexpr std::string_view key = "PROCACTOR_RUN=";
  for (std::size_t at = 0; at < length;) {
    const std::string_view entry(environment + at);
    if (entry.starts_with(key) && entry.size() - key.size() < sizeof g_run) {
      const std::string_view run = entry.substr(key.size());
      if (run == std::string_view(g_run)) return false;
      std::memcpy(g_run, run.data(), run.size());
      g_run[run.size()] = '\0';
      return true;
    }
    at += entry.size() + 1;
  }
  return false;
}

// The run whose guardian the server was asked for (make_guardian): the
// server removes its segments too when the supervisor dies. Written once,
// before any spare is forked (the guardian comes before the segment).
char g_guarded[256];

// The guardian, cloned: what start_guardian's posix_spawn + exec makes of
// it, without loading the program again. Its parent is the supervisor
// (CLONE_PARENT), but it does not die with it, which is its point: no
// PR_SET_PDEATHSIG (a clone starts without the server's), a session of its
// own, and the pipe's read end, which it got as `end`, on its standard
// input.
[[noreturn]] void become_guardian(const char* run, int end) {
  ::setsid();
  if (::dup2(end, STDIN_FILENO) < 0) _exit(1);
  ::close_range(3, ~0U, 0);  // the server's socket and `end`
  unblock_signals();
  set_command_line("procactor-guardian");
  run_guardian(run);
}

// The spare: a child made ahead of need, already what become_child makes
// it, that waits for the one request it will serve, sent by the supervisor
// itself. A restart then costs no fork and no hop through the server. It
// exits when the supervisor closes its end unused.
[[noreturn]] void run_spare(int parent, int end) {
  become_child(parent);
  prctl(PR_SET_NAME, "procactor-spare");
  set_command_line("procactor-spare");
  prepare_actor_process("procactor-spare", g_run, end);
  await_request(end);
  static char buffer[max_request];
  request r;
  if (receive(end, r, buffer) != 1 || r.header.kind != become) _exit(0);
  ::close(end);
  become_actor(buffer, r);
}

void send_reply(std::int32_t pid, int descriptor = -1) {
  fork_reply reply{pid};
  const iovec part{&reply, sizeof reply};
  (void)send_with_descriptors(server_socket, {&part, 1},
                              descriptor >= 0 ? std::span<const int>(&descriptor, 1) : std::span<const int>{});
}

// Forks a spare; its end of a new socket pair goes to the supervisor.
void make_and_send_spare(int parent) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    send_reply(-errno);
    return;
  }
  const long pid = clone_for_supervisor();
  if (pid == 0) {
    ::close(ends[0]);
    run_spare(parent, ends[1]);
  }
  const int error = errno;
  ::close(ends[1]);
  send_reply(pid > 0 ? static_cast<std::int32_t>(pid) : -error, pid > 0 ? ends[0] : -1);
  ::close(ends[0]);
}

[[noreturn]] void serve(int parent) {
  // The server does not die with the supervisor: it is the run's second
  // guardian. A guardian killed from outside leaves the supervisor alone
  // until it has started another; a kill -9 of the supervisor then (two
  // kills back to back, or a chaos tool) left the segment for the next
  // start-up's sweep. Here the supervisor's death is its socket's end
  // without a `quit`, and the segments are removed (see the loop). SIGCONT
  // rather than no signal: one stopped from outside still wakes to do it.
  prctl(PR_SET_PDEATHSIG, SIGCONT);
  if (::getppid() != parent) _exit(0);
  prctl(PR_SET_NAME, "procactor-fork");
  set_command_line("procactor-fork-server");
  ::setpgid(0, 0);  // out of the terminal's foreground group: Ctrl-C is the supervisor's
  // What every child of the server starts with: default dispositions but
  // for the crash handlers. Set here once rather than in each child.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  ::close_range(server_socket + 1, ~0U, 0);
  prepare_actor_process("procactor-fork-server", nullptr, -1);
  static char buffer[max_request];
  for (;;) {
    request r;
    const int got = receive(server_socket, r, buffer);
    if (got == 1 && r.header.kind == quit) _exit(0);  // an orderly stop
    if (got == 0 || got == -ECONNRESET) {
      // The end without a `quit` (ECONNRESET: with answers it never read):
      // the supervisor died. After a SIGKILL nothing else may be left to
      // remove the segments; its other ends remove them themselves, and a
      // second removal is harmless. (It closes the socket while it lives
      // only with the server killed first: fork_server::lost.)
      if (g_guarded[0] != '\0') remove_run_segments(g_guarded);
      _exit(0);
    }
    if (got < 0 && got != -EPROTO) _exit(0);
    if (got < 0) {
      send_reply(-EPROTO);
      continue;
    }
    if (r.header.kind == make_spare) {
      // Mapped here once per run: each spare inherits the mapping.
      if (remember_run(buffer, r.environment)) prepare_actor_process("procactor-fork-server", g_run, -1);
      pollfd next{server_socket, POLLIN, 0};
      while (::poll(&next, 1, spare_delay_ms) < 0 && errno == EINTR) {
      }
      make_and_send_spare(parent);
    } else if (r.header.kind == make_guardian && r.count == 1 && r.environment > 0) {
      buffer[r.environment] = '\0';  // the run's name
      if (r.environment < sizeof g_guarded && std::strcmp(g_guarded, buffer) != 0) {
        std::memcpy(g_guarded, buffer, r.environment + 1);
      }
      const long pid = clone_for_supervisor();
      if (pid == 0) become_guardian(buffer, r.fds[0]);
      send_reply(pid > 0 ? static_cast<std::int32_t>(pid) : -errno);
    } else if (r.header.kind == become) {
      const long pid = clone_for_supervisor();
      if (pid == 0) {
        become_child(parent);
        become_actor(buffer, r);
      }
      send_reply(pid > 0 ? static_cast<std::int32_t>(pid) : -errno);
    } else {
      send_reply(-EPROTO);
    }
    for (int i = 0; i < r.count; ++i) ::close(r.fds[i]);
  }
}

}  // namespace

fork_server::~fork_server() { stop(); }

bool fork_server::start() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return false;
  const int parent = static_cast<int>(::getpid());
  process::helper_fork(true);  // not a copy of the program, but a helper of its run
  const pid_t pid = ::fork();
  process::helper_fork(false);
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
  record_helper_pid(pid);
  socket_ = ends[0];
  close_in_fork_copies(socket_);
  return true;
}

namespace {

// Sends a request of `kind` on `fd`: 0 or -errno.
int send_request(int fd, request_kind kind, const std::string& environment,
                 const std::vector<std::pair<int, int>>& descriptors) {
  request_header header{};
  header.kind = kind;
  header.environment_bytes = static_cast<std::uint32_t>(environment.size());
  header.descriptors = static_cast<std::uint32_t>(descriptors.size());
  int fds[max_descriptors] = {};
  for (std::size_t i = 0; i < descriptors.size(); ++i) {
    fds[i] = descriptors[i].first;
    header.targets[i] = descriptors[i].second;
  }
  const iovec parts[2] = {{&header, sizeof header}, {const_cast<char*>(environment.data()), environment.size()}};
  return send_with_descriptors(fd, parts, {fds, descriptors.size()});
}

}  // namespace

// One answer of the server; with `wait` false, none (false) when none is
// there yet.
bool fork_server::receive_reply(fork_reply_data& out, int wait_ms) {
  const bool wait = wait_ms > 0;
  out = {};
  if (wait) {
    pollfd answer{socket_, POLLIN, 0};
    int ready;
    while ((ready = ::poll(&answer, 1, wait_ms)) < 0 && errno == EINTR) {
    }
    if (ready == 0) {
      // Stopped (SIGSTOP, a debugger) or wedged: it would hold this start,
      // or the run's end, for ever. Killed; watch_helpers or stop reaps it.
      if (pid_ > 0) ::kill(pid_, SIGKILL);
      lost();
      failure_ = ETIMEDOUT;
      out.pid = -ETIMEDOUT;
      return false;
    }
  }
  fork_reply reply{};
  iovec part{&reply, sizeof reply};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  while ((got = ::recvmsg(socket_, &message, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT))) < 0 && errno == EINTR) {
  }
  if (got < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (got != sizeof reply) {
    out.pid = -(errno != 0 ? errno : EPIPE);
    lost();
    return false;
  }
  out.pid = reply.pid;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      std::memcpy(&out.socket, CMSG_DATA(c), sizeof(int));
    }
  }
  return true;
}

void fork_server::collect_spares(collect how, int wait_ms) {
  while (asked_ > 0 && socket_ >= 0) {
    fork_reply_data reply;
    const bool wait = how == collect::all || (how == collect::one && spares_.empty());
    if (!receive_reply(reply, wait ? wait_ms : 0)) return;
    --asked_;
    if (reply.pid > 0 && reply.socket >= 0) {
      spares_.push_back({reply.pid, reply.socket});
      record_helper_pid(reply.pid);
    } else if (reply.socket >= 0) {
      ::close(reply.socket);
    }
  }
}

void fork_server::top_up() {
  while (socket_ >= 0 && !run_.empty() && spares_.size() + static_cast<std::size_t>(asked_) < kept_spares) {
    if (send_request(socket_, make_spare, run_, {}) != 0) {
      lost();
      return;
    }
    ++asked_;
  }
}

void fork_server::lost() noexcept {
  // A server that outlived its socket would take that end for the
  // supervisor's death and remove the run's segments: killed first (it has
  // died already or been wedged, but for an odd reply). The supervisor
  // reaps it (watch_helpers).
  if (pid_ > 0 && socket_ >= 0) ::kill(pid_, SIGKILL);
  if (socket_ >= 0) {
    keep_in_fork_copies(socket_);
    ::close(socket_);
  }
  socket_ = -1;
  asked_ = 0;
}

int fork_server::ask_server(std::uint32_t kind, const std::string& bytes,
                            const std::vector<std::pair<int, int>>& descriptors) {
  if (socket_ < 0) return -failure_;
  if (const int sent = send_request(socket_, static_cast<request_kind>(kind), bytes, descriptors); sent != 0) {
    lost();
    return sent;
  }
  fork_reply_data reply;
  if (!receive_reply(reply, answer_timeout_ms))
    return reply.pid < 0 ? reply.pid : -EPIPE;  // the caller falls back to exec
  if (reply.socket >= 0) ::close(reply.socket);
  return reply.pid;
}

int fork_server::spawn_guardian(int read_end, const std::string& run) {
  if (run.empty() || run.size() + 1 > max_request) return -EINVAL;
  collect_spares(collect::all);  // their answers come first
  return ask_server(make_guardian, run, {{read_end, STDIN_FILENO}});
}

int fork_server::spawn(const std::vector<std::string>& environment,
                       const std::vector<std::pair<int, int>>& descriptors) {
  if (!running()) return -ENOTCONN;
  if (descriptors.size() > max_descriptors) return -EINVAL;
  std::string bytes;
  for (const auto& entry : environment) {
    bytes.append(entry).push_back('\0');
    if (entry.starts_with("PROCACTOR_RUN=")) run_ = entry + '\0';
  }
  if (bytes.size() + 1 > max_request) return -E2BIG;
  // Spares asked for earlier: here by now, or (none in hand) in a moment.
  collect_spares(collect::ready);
  if (spares_.empty()) collect_spares(collect::one);
  while (!spares_.empty()) {
    // The oldest spare becomes the actor: the request goes to it directly.
    const spare next = spares_.front();
    spares_.pop_front();
    // Stopped (SIGSTOP, a debugger), it would take the request and leave
    // the actor "starting" for ever.
    if (const char state = preview_exit(next.pid).state; state == 'T' || state == 't') {
      ::close(next.socket);
      reap(next.pid);  // SIGKILL ends a stopped process too
      continue;
    }
    const int sent = send_request(next.socket, become, bytes, descriptors);
    ::close(next.socket);
    if (sent == 0) {
      forget_helper_pid(next.pid);  // an actor now, which the supervisor records as one
      top_up();
      return next.pid;
    }
    reap(next.pid);  // killed from outside while it waited: a child of this process
  }
  const int pid = ask_server(become, bytes, descriptors);
  top_up();  // nothing once the server is lost
  return pid;
}

std::optional<int> fork_server::reap_if_dead() noexcept {
  int status = 0;
  if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  forget_helper_pid(pid_);
  pid_ = -1;
  // Its answers that came before its death carry spares: taken, so that
  // each is reaped at the end like the others.
  collect_spares(collect::ready);
  lost();
  return status;
}

void fork_server::reap(int pid) noexcept {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  forget_helper_pid(pid);
}

void fork_server::stop() noexcept {
  // Every spare asked for, also one still on its way: each is a child of
  // this process, to reap. A server that does not answer within the grace
  // (stopped from outside) is killed rather than waited for.
  collect_spares(collect::all, helper_grace_ms);
  for (const spare& s : spares_) {
    ::close(s.socket);
    reap(s.pid);
  }
  spares_.clear();
  if (socket_ >= 0) {
    // Said first: the end of requests alone is the supervisor's death,
    // which makes the server remove the run's segments.
    (void)send_request(socket_, quit, {}, {});
    ::shutdown(socket_, SHUT_WR);  // the server exits at the end of requests
    keep_in_fork_copies(socket_);
    ::close(socket_);
  }
  socket_ = -1;
  if (pid_ > 0) {
    (void)reap_or_kill(pid_, helper_grace_ms);
    forget_helper_pid(pid_);
  }
  pid_ = -1;
}

}  // namespace procactor::detail
