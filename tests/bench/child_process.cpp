#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

namespace procactor_bench {

namespace {

[[noreturn]] void throw_errno(const char* call, int err) {
  throw std::system_error(err, std::generic_category(), call);
}

void close_quietly(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

bool exit_status::success() const {
  return !known || (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
}

std::string exit_status::describe() const {
  if (!known) return "exited (status reaped elsewhere)";
  std::ostringstream out;
  if (WIFEXITED(wait_status)) {
    out << "exited with code " << WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    out << "killed by signal " << WTERMSIG(wait_status) << " (" << ::strsignal(WTERMSIG(wait_status))
        << ")";
  } else {
    out << "wait status " << wait_status;
  }
  return out.str();
}

child_process child_process::start(const std::string& path, const std::vector<std::string>& args,
                                   int stdout_fd, bool own_group, int stderr_fd,
                                   const std::vector<std::string>* env) {
  // Everything the child needs is built here, before fork: after fork it may
  // not allocate.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (env != nullptr) {
    envp.reserve(env->size() + 1);
    for (const auto& entry : *env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }

  // The child reports a failed exec through this close-on-exec pipe: EOF means
  // exec succeeded, four bytes are its errno.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("pipe2", errno);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    close_quietly(report[0]);
    close_quietly(report[1]);
    throw_errno("fork", err);
  }
  if (pid == 0) {
    // A runtime that takes signals through signalfd blocks them in every
    // thread, and the mask survives exec: the child must start unblocked.
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before prctl took effect.
    if (::getppid() != parent) ::_exit(127);
    if (own_group) ::setpgid(0, 0);
    if ((stdout_fd >= 0 && ::dup2(stdout_fd, STDOUT_FILENO) < 0) ||
        (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0)) {
      const int err = errno;
      [[maybe_unused]] auto n = ::write(report[1], &err, sizeof err);
      ::_exit(127);
    }
    if (env != nullptr) {
      ::execve(path.c_str(), argv.data(), envp.data());
    } else {
      ::execv(path.c_str(), argv.data());
    }
    const int err = errno;
    [[maybe_unused]] auto n = ::write(report[1], &err, sizeof err);
    ::_exit(127);
  }

  // Also here, so the group exists before anyone signals it, whichever of
  // parent and child runs first (one of the two calls may fail harmlessly).
  if (own_group) ::setpgid(pid, pid);
  close_quietly(report[1]);
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close_quietly(report[0]);

  child_process child(pid, open_pidfd(pid), own_group);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    child.kill_and_reap();
    throw_errno(("exec " + path).c_str(), exec_errno);
  }
  return child;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(other.pid_), pidfd_(other.pidfd_), own_group_(other.own_group_), status_(other.status_) {
  other.pid_ = -1;
  other.pidfd_ = -1;
}

child_process::~child_process() { kill_and_reap(); }

std::optional<exit_status> child_process::try_reap() {
  if (status_) return status_;
  int wait_status = 0;
  const pid_t r = ::waitpid(pid_, &wait_status, WNOHANG);
  if (r == pid_) {
    status_ = exit_status{true, wait_status};
  } else if (r < 0 && errno == ECHILD) {
    status_ = exit_status{false, 0};
  }
  return status_;
}

std::optional<exit_status> child_process::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto status = try_reap()) return status;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (pidfd_ >= 0) {
      // A pidfd becomes readable when the child exits: no polling loop.
      pollfd fd{pidfd_, POLLIN, 0};
      ::poll(&fd, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(1)));
    }
  }
}

void child_process::reap_group(std::chrono::milliseconds grace) noexcept {
  if (!own_group_ || pid_ < 0 || !status_) return;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  bool killed = false;
  for (;;) {
    const pid_t r = ::waitpid(-pid_, nullptr, killed ? 0 : WNOHANG);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;  // ECHILD: none of the group is our child any more
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      killed = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void child_process::kill_and_reap() noexcept {
  if (pid_ < 0) return;
  if (!status_) {
    ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
    int wait_status = 0;
    pid_t r = 0;
    do {
      r = ::waitpid(pid_, &wait_status, 0);
    } while (r < 0 && errno == EINTR);
    status_ = exit_status{r == pid_, wait_status};
  }
  reap_group(std::chrono::milliseconds(0));
  close_quietly(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

void fd_guard::reset() noexcept {
  close_quietly(fd_);
  fd_ = -1;
}

bool read_until_eof(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{fd, POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_errno("poll", errno);
    if (ready == 0) continue;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("read", errno);
    if (got == 0) return true;
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

bool announce_child_started(const char* parent_pid) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != static_cast<pid_t>(std::strtol(parent_pid, nullptr, 10))) return false;
  const char byte = '!';
  ssize_t written = 0;
  do {
    written = ::write(STDOUT_FILENO, &byte, 1);
  } while (written < 0 && errno == EINTR);
  return written == 1;
}

std::string self_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::system_error(ec, "readlink /proc/self/exe");
  return path.string();
}

std::optional<std::string> find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
    std::string dir = dirs.substr(begin, end - begin);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    struct stat info {};
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return std::nullopt;
}

}  // namespace procactor_bench
