// Starting an actor process: posix_spawn of this same program in child mode,
// its own process group, its output pipes, and a pidfd for its death.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "exit_paths.hpp"
#include "registry.hpp"
#include "spawn_support.hpp"
#include "supervisor.hpp"

namespace procactor::detail {

// Runs on the monitor thread: PR_SET_PDEATHSIG fires when the *thread* that
// made the child exits, so every actor is started by this long-lived thread.
void supervisor::start(slot_id slot) {
  child& c = children_[slot];
  if (c.pid > 0) {  // one incarnation at a time: a second would be unsupervised
    log_line(c.name, "not started again: incarnation " + std::to_string(c.pid) + " still runs");
    return;
  }
  std::vector<std::string> extra = {"PROCACTOR_RUN=" + process_->shm().name(),
                                    "PROCACTOR_SLOT=" + std::to_string(slot),
                                    "PROCACTOR_PARENT=" + std::to_string(::getpid())};
  if (const std::string plugins = loaded_plugins(); !plugins.empty()) extra.push_back("PROCACTOR_PLUGINS=" + plugins);
  std::error_code no_cwd;
  if (const auto cwd = std::filesystem::current_path(no_cwd); !no_cwd) extra.push_back("PROCACTOR_CWD=" + cwd.string());

  // Captured output: a pipe per stream, the child's ends dup2'ed onto 1 and
  // 2. Stderr always goes through the supervisor, which keeps its last lines
  // for the exit record (and passes them on to its own stderr when nobody
  // captures); stdout only when output is captured.
  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  const bool capture = static_cast<bool>(on_output_);
  std::vector<std::pair<int, int>> descriptors;
  for (int stream = capture ? 0 : 1; stream < 2; ++stream) {
    if (pipe2(pipes[stream], O_CLOEXEC) != 0) throw_system_error("pipe2", errno);
    descriptors.emplace_back(pipes[stream][1], stream + 1);
  }
  // Set before the child exists: the child moves it on to `running` itself
  // (a compare-exchange), so a store after the spawn could undo that. Its
  // start time too, with it: info() showed a new incarnation `running`
  // with the last one's start time, from before the exit it shows.
  {
    std::lock_guard guard(mutex_);
    process_->shm().slot(slot).state.store(static_cast<std::uint32_t>(slot_state::starting), std::memory_order_release);
    c.started = steady::now();
    changed_.notify_all();
  }
  // Nobody holds it: the new incarnation will (life_watch.hpp).
  process_->shm().slot(slot).life.store(0, std::memory_order_release);
  pid_t pid = 0;
  int rc = 0;
  if (forks_.running()) {
    std::vector<std::string> forked_extra = extra;
    forked_extra.emplace_back("PROCACTOR_FORKED=1");
    const int forked = forks_.spawn(forked_extra, descriptors);
    if (forked > 0) {
      pid = forked;
      // Its own process group exists before its pid is published: a child
      // the server has just cloned makes it first thing, but a kill of the
      // group (`ref.kill()`, a stop) before that found none and was lost.
      // Both sides set it, as a shell does (a spare is in the server's until then).
      ::setpgid(pid, pid);
    } else {
      // The server inherited this process's limits: an EAGAIN names them.
      log_line("supervisor", std::string("the fork server failed (") + std::strerror(-forked) +
                                 process_limit_note(-forked) + "); actors start with exec from now on");
    }
  }
  if (pid == 0) {
    child_environment env(std::move(extra));
    std::vector<char*> argv;
    for (auto& s : argv_) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (const auto& [fd, target] : descriptors) posix_spawn_file_actions_adddup2(&actions, fd, target);
    // Its own process group: Ctrl-C at the terminal reaches the supervisor
    // only, which then stops the actors in order.
    posix_spawnattr_t attr;
    init_spawn_attributes(attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    // /proc/self/exe when the file was replaced or removed since start-up
    // (a rebuild): it still names the inode this process runs.
    std::error_code missing;
    const char* program = !executable_.empty() && std::filesystem::exists(executable_, missing)
                              ? executable_.c_str()
                              : "/proc/self/exe";
    rc = posix_spawn(&pid, program, &actions, &attr, argv.data(), env.envp());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  for (auto& p : pipes) {
    if (p[1] >= 0) ::close(p[1]);
  }
  if (rc != 0) {
    for (auto& p : pipes) {
      if (p[0] >= 0) ::close(p[0]);
    }
    throw error(errc::system, "posix_spawn of " + c.name + ": " + std::strerror(rc) + process_limit_note(rc));
  }
  {
    for (int stream = capture ? 0 : 1; stream < 2; ++stream) {
      fcntl(pipes[stream][0], F_SETFL, O_NONBLOCK);
      c.output[stream] = pipes[stream][0];
      epoll_event out{};
      out.events = EPOLLIN;
      out.data.u64 = slot | (std::uint64_t(stream + 1) << 32);
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pipes[stream][0], &out);
    }
  }

  // Death arrives as a readable pidfd in the epoll loop. Without pidfds
  // (kernels before 5.3, valgrind) the monitor polls waitpid instead.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0 && errno != ENOSYS) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw_system_error("pidfd_open", errno);
  }
  if (pidfd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = slot;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &ev);
  } else {
    polling_ = true;
  }
  slot_entry& e = process_->shm().slot(slot);
  {
    std::lock_guard guard(mutex_);
    c.pid = pid;
    c.pidfd = pidfd;
    c.restart_due.reset();
    c.stderr_tail.clear();
    c.exit_cause.clear();
    c.stalled = false;
    c.signalled = 0;
    e.pid.store(pid, std::memory_order_release);
    e.incarnation.fetch_add(1);
    record_actor_pid(slot, pid);
    changed_.notify_all();  // a signal or a restart waiting for this start (await_start)
  }
  emit({ActorEvent::Kind::started, c.name, pid, c.type, {}});
}

}  // namespace procactor::detail
