#include "supervisor.hpp"

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <cstring>
#include <random>
#include <utility>

#include "actor_host.hpp"
#include "futex.hpp"
#include "registry.hpp"

extern char** environ;

namespace procactor::detail {
namespace {

// Lanes of a reply inbox: replies are small, large ones travel as blobs.
constexpr std::uint64_t inbox_lane_capacity = 64 * 1024;
constexpr auto monitor_tick = std::chrono::milliseconds(250);

// What the signal handlers need, kept where async-signal-safe code can read it.
char g_run_name[name_length];
std::atomic<int> g_pids[max_slots];
struct sigaction g_previous[NSIG];

void on_fatal_signal(int sig) {
  for (auto& pid : g_pids) {
    const int p = pid.load(std::memory_order_relaxed);
    if (p > 0) ::kill(-p, SIGKILL);
  }
  remove_run_segments(g_run_name);
  sigaction(sig, &g_previous[sig], nullptr);
  ::raise(sig);
}

void on_exit_cleanup() { remove_run_segments(g_run_name); }

// Ctrl-C and kill(1) must not leave the run's segments behind. A handler the
// program installed itself is left alone: that program has its own plan.
void install_exit_paths() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  std::atexit(on_exit_cleanup);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    struct sigaction current {};
    sigaction(sig, nullptr, &current);
    if (current.sa_handler != SIG_DFL) continue;
    struct sigaction handler {};
    handler.sa_handler = on_fatal_signal;
    sigemptyset(&handler.sa_mask);
    sigaction(sig, &handler, &g_previous[sig]);
  }
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    std::string text = "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    if (WCOREDUMP(status)) text += ", core dumped";
    return text;
  }
  return "status " + std::to_string(status);
}

std::string nearest(std::string_view wanted, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& candidate : known) {
    std::vector<std::size_t> row(candidate.size() + 1);
    for (std::size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= wanted.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= candidate.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (wanted[i - 1] == candidate[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    if (row[candidate.size()] < best_distance) {
      best_distance = row[candidate.size()];
      best = candidate;
    }
  }
  return best;
}

}  // namespace

supervisor::supervisor(std::vector<std::string> argv, Options options)
    : argv_(std::move(argv)), options_(std::move(options)) {
  if (options_.max_actors >= max_slots) options_.max_actors = max_slots - 1;
  // The program's own path, resolved once: tools that run the program
  // (valgrind, rr) answer this readlink with the program, not themselves.
  std::error_code ignored;
  executable_ = std::filesystem::read_symlink("/proc/self/exe", ignored).string();
  // Orphans of actor processes are re-parented here, not to init, so they
  // can be reaped and no zombie outlives the run.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // A pidfd per actor and two pipes per captured actor: a thousand actors
  // need more descriptors than the usual soft limit of 1024. The hard limit
  // is what the administrator allows; the soft one is only a default.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  arena a = arena::create(options_.arena_size, options_.lane_capacity, options_.max_message_size);
  std::strncpy(g_run_name, a.name().c_str(), sizeof g_run_name - 1);
  install_exit_paths();
  try {
    guardian_ = start_guardian(executable_, a.name());
  } catch (...) {
    remove_run_segments(g_run_name);
    throw;
  }

  slot_entry& self = a.slot(supervisor_slot);
  self.pid.store(::getpid());
  std::strncpy(self.name, "supervisor", name_length - 1);
  std::string problem;
  auto inbox = a.make_mailbox(supervisor_slot, inbox_lane_capacity, &problem);
  if (!inbox) throw error(errc::arena_exhausted, "no room for the supervisor's inbox: " + problem);
  self.inbox = *inbox;
  self.state.store(static_cast<std::uint32_t>(slot_state::running));
  a.header()->slot_count.store(1, std::memory_order_release);
  children_.resize(options_.max_actors + 1);
  children_[supervisor_slot].config = config_of(self);
  children_[supervisor_slot].name = "supervisor";

  auto owned = std::make_unique<process>(std::move(a), supervisor_slot, true);
  process_ = owned.get();
  process::install(std::move(owned));
  process_->send_timeout = options_.send_timeout;
  process_->join_hook = [this](slot_id slot, steady::duration timeout) { return join(slot, timeout); };
  process_->spawn_hook = [this](std::string_view type, std::string_view name, const SpawnOptions& o) {
    return spawn(type, name, o);
  };
  process_->set_inbox_handler([this](const delivery& d) { return take_dead_letter(d); });
  process_->start_pump();

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw_system_error("epoll_create1/eventfd", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~std::uint64_t{0};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  monitor_thread_ = std::thread([this] { monitor(); });
}

supervisor::~supervisor() {
  shutdown();
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (monitor_thread_.joinable()) monitor_thread_.join();
  process_->stop_pump();
  ::close(epoll_fd_);
  ::close(wake_fd_);
  remove_run_segments(g_run_name);
  process::uninstall();
  stop_guardian(guardian_);
  g_run_name[0] = '\0';
}

slot_id supervisor::spawn(std::string_view type, std::string_view name, const SpawnOptions& options) {
  if (find_actor_type(type) == nullptr) {
    std::string hint = nearest(type, actor_type_names());
    throw error(errc::no_such_actor, "unknown actor type '" + std::string(type) + "'" +
                                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  if (name.empty() || name.size() >= name_length || type.size() >= name_length) {
    throw error(errc::system, "actor names and types must be 1 to " + std::to_string(name_length - 1) + " bytes");
  }
  const arena& a = process_->shm();
  std::promise<void> started;
  auto done = started.get_future();
  slot_id slot;
  {
    std::lock_guard guard(mutex_);
    if (shut_down_) throw error(errc::closed, "the runtime is shutting down");
    if (find(name) != no_slot) throw error(errc::system, "an actor named '" + std::string(name) + "' already exists");
    slot = a.header()->slot_count.load();
    if (slot > options_.max_actors) {
      throw error(errc::system, "too many actors in this run (Options::max_actors = " +
                                    std::to_string(options_.max_actors) + ")");
    }
    slot_entry& e = a.slot(slot);
    std::strncpy(e.name, std::string(name).c_str(), name_length - 1);
    std::strncpy(e.type, std::string(type).c_str(), name_length - 1);
    e.poison_limit = static_cast<std::uint32_t>(std::max(1, options.poison_limit));
    e.delivery = static_cast<std::uint32_t>(options.delivery);
    e.when_down = static_cast<std::uint32_t>(options.when_down);
    e.cpu = options.cpu;
    e.nice = options.nice;
    e.replica = options.replica;
    e.memory_limit = options.memory_limit;
    const std::uint64_t capacity = options.mailbox_capacity != 0 ? options.mailbox_capacity : options_.lane_capacity;
    std::string problem;
    auto box = a.make_mailbox(slot, capacity, &problem);
    auto inbox = box ? a.make_mailbox(slot, inbox_lane_capacity, &problem) : std::nullopt;
    if (!box || !inbox) throw error(errc::arena_exhausted, "no room for " + std::string(name) + "'s mailbox: " + problem);
    e.mailbox = *box;
    e.inbox = *inbox;
    // Parameters and routes are copied into the arena once, for every
    // incarnation to read.
    auto store = [&](const auto& value, std::uint64_t& offset, std::uint64_t& length) {
      encoder local;
      auto bytes = local.encode(value);
      std::string why;
      auto at = a.allocate(bytes.size(), &why);
      if (!at) throw error(errc::arena_exhausted, "no room for " + std::string(name) + "'s parameters: " + why);
      std::memcpy(a.at<std::byte>(*at, bytes.size()), bytes.data(), bytes.size());
      offset = *at;
      length = bytes.size();
    };
    if (!options.params.values().empty()) store(options.params, e.params, e.params_length);
    if (!options.routes.empty()) store(options.routes, e.routes, e.routes_length);
    e.state.store(static_cast<std::uint32_t>(slot_state::starting), std::memory_order_release);
    a.header()->slot_count.store(slot + 1, std::memory_order_release);
    child& c = children_[slot];
    c.config = config_of(e);
    c.type = type;
    c.name = name;
    c.options = options;
    c.backoff = options.backoff.initial;
    child_count_.store(slot + 1);
    start_requests_.emplace_back(slot, std::move(started));
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  done.get();  // rethrows a failed posix_spawn
  return slot;
}

// Runs on the monitor thread: PR_SET_PDEATHSIG fires when the *thread* that
// made the child exits, so every actor is started by this long-lived thread.
void supervisor::start(slot_id slot) {
  child& c = children_[slot];
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PROCACTOR_", 10) != 0) env_storage.emplace_back(*e);
  }
  env_storage.push_back("PROCACTOR_RUN=" + process_->shm().name());
  env_storage.push_back("PROCACTOR_SLOT=" + std::to_string(slot));
  env_storage.push_back("PROCACTOR_PARENT=" + std::to_string(::getpid()));
  const std::string plugins = loaded_plugins();
  if (!plugins.empty()) env_storage.push_back("PROCACTOR_PLUGINS=" + plugins);
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& s : argv_) argv.push_back(s.data());
  argv.push_back(nullptr);

  // Captured output: a pipe per stream, the child's ends dup2'ed onto 1 and 2.
  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const bool capture = static_cast<bool>(on_output_);
  if (capture) {
    for (int stream = 0; stream < 2; ++stream) {
      if (pipe2(pipes[stream], O_CLOEXEC) != 0) throw_system_error("pipe2", errno);
      posix_spawn_file_actions_adddup2(&actions, pipes[stream][1], stream + 1);
    }
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group: Ctrl-C at the terminal reaches the supervisor
  // only, which then stops the actors in order.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  // Set before the child exists: the child moves it on to `running` itself
  // (a compare-exchange), so a store after the spawn could undo that.
  set_state(slot, slot_state::starting);
  pid_t pid = 0;
  // /proc/self/exe when the file was replaced or removed since start-up
  // (a rebuild): it still names the inode this process runs.
  std::error_code missing;
  const char* program = !executable_.empty() && std::filesystem::exists(executable_, missing)
                            ? executable_.c_str()
                            : "/proc/self/exe";
  const int rc = posix_spawn(&pid, program, &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  for (auto& p : pipes) {
    if (p[1] >= 0) ::close(p[1]);
  }
  if (rc != 0) {
    for (auto& p : pipes) {
      if (p[0] >= 0) ::close(p[0]);
    }
    throw_system_error("posix_spawn of " + c.name, rc);
  }
  if (capture) {
    for (int stream = 0; stream < 2; ++stream) {
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
    c.started = steady::now();
    c.restart_due.reset();
    e.pid.store(pid, std::memory_order_release);
    e.incarnation.fetch_add(1);
    g_pids[slot].store(pid);
  }
  emit({ActorEvent::Kind::started, c.name, pid, c.type});
}

void supervisor::monitor() {
  epoll_event events[32];
  steady::time_point last_slot_check{};
  for (;;) {
    int timeout_ms = polling_ ? 10 : static_cast<int>(monitor_tick.count());
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      const auto now = steady::now();
      for (slot_id s = 1; s < child_count_.load(); ++s) {
        if (auto due = children_[s].restart_due) {
          const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*due - now).count();
          timeout_ms = std::clamp<int>(static_cast<int>(wait), 0, timeout_ms);
        }
      }
    }
    const int n = epoll_wait(epoll_fd_, events, 32, timeout_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == ~std::uint64_t{0}) {
        std::uint64_t count;
        (void)!::read(wake_fd_, &count, sizeof count);
        continue;
      }
      const auto slot = static_cast<slot_id>(events[i].data.u64 & 0xffffffffU);
      if (const auto stream = static_cast<int>(events[i].data.u64 >> 32); stream != 0) {
        read_output(slot, stream - 1, false);
        continue;
      }
      int status = 0;
      const int pid = children_[slot].pid;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) reaped(slot, status);
    }
    if (polling_) {
      for (slot_id s = 1; s < child_count_.load(); ++s) {
        int status = 0;
        const int pid = children_[s].pid;
        if (pid > 0 && children_[s].pidfd < 0 && ::waitpid(pid, &status, WNOHANG) == pid) reaped(s, status);
      }
    }
    // Start requests and due restarts.
    for (;;) {
      std::pair<slot_id, std::promise<void>> request;
      {
        std::lock_guard guard(mutex_);
        if (start_requests_.empty()) break;
        request = std::move(start_requests_.front());
        start_requests_.pop_front();
      }
      try {
        start(request.first);
        request.second.set_value();
      } catch (...) {
        set_state(request.first, slot_state::failed);
        request.second.set_exception(std::current_exception());
      }
    }
    std::vector<slot_id> due;
    {
      std::lock_guard guard(mutex_);
      const auto now = steady::now();
      for (slot_id s = 1; s < child_count_.load(); ++s) {
        if (!children_[s].restart_due) continue;
        slot_entry& e = process_->shm().slot(s);
        if (e.no_restart.load() != 0) {
          // Killed while waiting out its backoff: it stays down.
          children_[s].restart_due.reset();
          e.state.store(static_cast<std::uint32_t>(slot_state::killed), std::memory_order_release);
          changed_.notify_all();
        } else if (*children_[s].restart_due <= now) {
          due.push_back(s);
        }
      }
    }
    for (slot_id s : due) {
      try {
        start(s);
      } catch (const std::exception& e) {
        log_line(children_[s].name, std::string("restart failed: ") + e.what());
        std::lock_guard guard(mutex_);
        children_[s].restart_due.reset();
        process_->shm().slot(s).state.store(static_cast<std::uint32_t>(slot_state::failed));
        changed_.notify_all();
      }
    }
    reap_orphans();
    watch_for_stalls();
    if (const auto now = steady::now(); now - last_slot_check >= monitor_tick) {
      last_slot_check = now;
      check_slots();
    }
  }
}

// The slot table is shared memory, so anything may overwrite it. What the
// supervisor wrote once is checked against its private copy on every tick,
// and repaired: one stray write must not cut an actor off for good. Each
// repair is logged and counted (status shows the count).
void supervisor::check_slots() {
  struct field {
    const char* name;
    std::size_t offset;
    std::size_t size;
  };
  static constexpr field fields[] = {
      {"mailbox offset", offsetof(slot_entry, mailbox), sizeof(std::uint64_t)},
      {"inbox offset", offsetof(slot_entry, inbox), sizeof(std::uint64_t)},
      {"params offset", offsetof(slot_entry, params), sizeof(std::uint64_t)},
      {"params length", offsetof(slot_entry, params_length), sizeof(std::uint64_t)},
      {"routes offset", offsetof(slot_entry, routes), sizeof(std::uint64_t)},
      {"routes length", offsetof(slot_entry, routes_length), sizeof(std::uint64_t)},
      {"poison limit", offsetof(slot_entry, poison_limit), sizeof(std::uint32_t)},
      {"delivery", offsetof(slot_entry, delivery), sizeof(std::uint32_t)},
      {"when_down", offsetof(slot_entry, when_down), sizeof(std::uint32_t)},
      {"cpu", offsetof(slot_entry, cpu), sizeof(std::int32_t)},
      {"nice", offsetof(slot_entry, nice), sizeof(std::int32_t)},
      {"replica", offsetof(slot_entry, replica), sizeof(std::int32_t)},
      {"memory limit", offsetof(slot_entry, memory_limit), sizeof(std::uint64_t)},
      {"name", offsetof(slot_entry, name), name_length},
      {"type", offsetof(slot_entry, type), name_length},
  };
  const arena& a = process_->shm();
  const std::uint32_t count = child_count_.load();
  for (slot_id s = 0; s < count; ++s) {
    slot_entry& e = a.slot(s);
    auto* shared = reinterpret_cast<std::byte*>(&e);
    const child& c = children_[s];
    if (std::memcmp(shared + slot_config_begin, c.config.bytes, sizeof c.config.bytes) == 0) continue;
    for (const field& f : fields) {
      const std::byte* trusted = c.config.bytes + (f.offset - slot_config_begin);
      if (std::memcmp(shared + f.offset, trusted, f.size) == 0) continue;
      log_line("supervisor", "slot " + std::to_string(s) + " (" + c.name + "): its " + f.name +
                                 " in shared memory was overwritten; restored");
      a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    }
    std::memcpy(shared + slot_config_begin, c.config.bytes, sizeof c.config.bytes);
  }
  // The pid must be the incarnation's: refs hand it to kill(2).
  for (slot_id s = 1; s < count; ++s) {
    std::lock_guard guard(mutex_);
    const int truth = children_[s].pid;
    if (a.slot(s).pid.load(std::memory_order_acquire) == truth) continue;
    log_line("supervisor", "slot " + std::to_string(s) + " (" + children_[s].name + "): its pid in shared memory was overwritten; restored");
    a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    a.slot(s).pid.store(truth, std::memory_order_release);
  }
  // The state must be one the runtime writes.
  for (slot_id s = 1; s < count; ++s) {
    const std::uint32_t state = a.slot(s).state.load(std::memory_order_acquire);
    if (state <= static_cast<std::uint32_t>(slot_state::killed) && state != 0) continue;
    log_line("supervisor", "slot " + std::to_string(s) + " (" + children_[s].name + "): its state " +
                               std::to_string(state) + " in shared memory is not a state; restored");
    a.header()->corruptions.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard guard(mutex_);
    const child& c = children_[s];
    const slot_state truth = c.pid > 0 ? slot_state::running : c.restart_due ? slot_state::restarting : slot_state::failed;
    a.slot(s).state.store(static_cast<std::uint32_t>(truth), std::memory_order_release);
  }
}

// A handler still on the same message after stall_timeout is hung: kill the
// process; the restart redelivers the message and the poison guard counts it.
void supervisor::watch_for_stalls() {
  const auto now = steady::now();
  std::lock_guard guard(mutex_);
  for (slot_id s = 1; s < child_count_.load(); ++s) {
    child& c = children_[s];
    if (c.options.stall_timeout.count() <= 0 || c.pid <= 0) continue;
    const slot_entry& e = process_->shm().slot(s);
    const std::uint32_t sender = e.inflight_sender.load(std::memory_order_acquire);
    const std::uint64_t position = e.inflight_position.load();
    const std::uint64_t processed = e.processed.load();
    if (sender == 0 || sender != c.watched_sender || position != c.watched_position ||
        processed != c.watched_processed) {
      c.watched_sender = sender;
      c.watched_position = position;
      c.watched_processed = processed;
      c.watched_since = now;
      continue;
    }
    if (now - c.watched_since >= c.options.stall_timeout) {
      log_line(c.name, "hung: one message for over " + std::to_string(c.options.stall_timeout.count()) +
                           " ms; killing it");
      ::kill(-c.pid, SIGKILL);
      c.watched_since = now;
    }
  }
}

void supervisor::reap_orphans() {
  std::lock_guard guard(mutex_);
  std::erase_if(dead_groups_, [](int group) {
    int status;
    for (;;) {
      const pid_t pid = ::waitpid(-group, &status, WNOHANG);
      if (pid > 0) continue;
      return pid < 0;  // ECHILD: nothing of that group is left
    }
  });
}

void supervisor::read_output(slot_id slot, int stream, bool until_eof) {
  child& c = children_[slot];
  const int fd = c.output[stream];
  if (fd < 0) return;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      std::string& pending = c.partial[stream];
      pending.append(buffer, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
        on_output_({c.name, c.options.replica, stream + 1, pending.substr(start, end - start)});
      }
      pending.erase(0, start);
      if (!until_eof) return;  // level-triggered epoll calls again for the rest
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || until_eof) {
      // The writer is gone: a last line without a newline still counts.
      if (!c.partial[stream].empty()) {
        on_output_({c.name, c.options.replica, stream + 1, c.partial[stream]});
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

void supervisor::reaped(slot_id slot, int status) {
  child& c = children_[slot];
  slot_entry& e = process_->shm().slot(slot);
  if (c.pidfd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.pidfd, nullptr);
    ::close(c.pidfd);
  }
  // Whatever the actor started dies with it.
  ::kill(-c.pid, SIGKILL);
  // Its last lines are shown before its exit is, and the dead letters it
  // reported are in before anyone who joins it looks.
  close_output(slot);
  process_->drain_inbox_now();
  // A process killed while asleep on its mailbox or inbox left its count
  // behind; nobody consumes either now.
  for (std::uint64_t offset : {e.mailbox, e.inbox}) {
    if (mailbox* box = process_->shm().mailbox_at(offset)) box->parked.store(0, std::memory_order_relaxed);
  }
  const int pid = c.pid;
  const std::string how = describe_exit(status);
  const bool abnormal = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  {
    std::lock_guard guard(mutex_);
    dead_groups_.push_back(pid);
    c.pid = 0;
    c.pidfd = -1;
    c.last_exit = how;
    c.last_exit_at = steady::now();
    e.pid.store(0, std::memory_order_release);
    g_pids[slot].store(0);
  }
  if (abnormal) after_crash(slot, c);
  e.inflight_sender.store(0);

  mailbox* box = process_->shm().mailbox_at(e.mailbox);
  const bool closed = box != nullptr && box->closed.load() != 0;
  bool restart = false;
  bool requested = false;
  {
    std::lock_guard guard(mutex_);
    requested = std::exchange(c.restart_requested, false) && e.no_restart.load() == 0;
    if (requested) {
      c.restart_due = steady::now();
      e.restarts.fetch_add(1);
    }
  }
  if (requested) {
    set_state(slot, slot_state::restarting);
    emit({ActorEvent::Kind::exited, c.name, pid, how});
    if (options_.log_events) log_line(c.name, "restarted on request");
    emit({ActorEvent::Kind::restarting, c.name, 0, "restart on request"});
    return;
  }
  if (e.no_restart.load() != 0) {
    set_state(slot, slot_state::killed);
  } else if (!abnormal && (closed || c.options.restart != Restart::permanent)) {
    set_state(slot, slot_state::exited);
  } else if (c.options.restart == Restart::temporary || (!abnormal && c.options.restart == Restart::transient)) {
    set_state(slot, abnormal ? slot_state::failed : slot_state::exited);
  } else {
    restart = true;
  }
  // Told after the state is settled: a listener that looks sees where the
  // actor is going (terminal, or about to restart).
  emit({ActorEvent::Kind::exited, c.name, pid, how});
  if (restart) {
    schedule_restart(slot, c, how);
  } else if (options_.log_events && abnormal) {
    log_line(c.name, "exited (" + how + "), not restarted");
  }
}

// Poison accounting, and the asker of the message in flight is told.
void supervisor::after_crash(slot_id slot, child& c) {
  slot_entry& e = process_->shm().slot(slot);
  const std::uint32_t sender = e.inflight_sender.load(std::memory_order_acquire);
  if (sender == 0) return;
  const std::uint64_t position = e.inflight_position.load();
  if (e.crash_sender.load() == sender && e.crash_position.load() == position) {
    e.crash_count.fetch_add(1);
  } else {
    e.crash_sender.store(sender);
    e.crash_position.store(position);
    e.crash_count.store(1);
  }
  const std::uint32_t flags = e.inflight_flags.load();
  if ((flags & flag_ask) != 0 && (flags & flag_retry_on_death) == 0) {
    const std::string why = c.name + " died (" + c.last_exit + ") while handling the request";
    process_->reply(sender - 1, e.inflight_correlation.load(), errc::actor_died, std::as_bytes(std::span(why)));
  }
}

void supervisor::schedule_restart(slot_id slot, child& c, const std::string& how) {
  const auto now = steady::now();
  std::unique_lock lock(mutex_);
  const auto& policy = c.options;
  // A long stable run earns the quick first restart back.
  if (now - c.started >= policy.backoff.reset_after) c.backoff = policy.backoff.initial;
  while (!c.restarts.empty() && now - c.restarts.front() > policy.within) c.restarts.pop_front();
  c.restarts.push_back(now);
  slot_entry& e = process_->shm().slot(slot);
  if (policy.max_restarts >= 0 && c.restarts.size() > static_cast<std::size_t>(policy.max_restarts)) {
    lock.unlock();
    set_state(slot, slot_state::failed);
    const std::string why = "gave up after " + std::to_string(policy.max_restarts) + " restarts within " +
                            std::to_string(policy.within.count()) + " ms; last exit: " + how;
    if (options_.log_events) log_line(c.name, why);
    emit({ActorEvent::Kind::gave_up, c.name, 0, why});
    return;
  }
  auto delay = c.backoff;
  if (policy.backoff.jitter > 0 && delay.count() > 0) {
    static thread_local std::minstd_rand random(static_cast<unsigned>(::getpid()));
    std::uniform_real_distribution<double> spread(1 - policy.backoff.jitter, 1 + policy.backoff.jitter);
    delay = std::chrono::duration_cast<steady::duration>(delay * spread(random));
  }
  c.backoff = std::min<steady::duration>(
      std::max<steady::duration>(std::chrono::duration_cast<steady::duration>(c.backoff * policy.backoff.multiplier),
                                 std::chrono::milliseconds(1)),
      policy.backoff.max);
  c.restart_due = now + delay;
  e.restarts.fetch_add(1);
  e.state.store(static_cast<std::uint32_t>(slot_state::restarting), std::memory_order_release);
  changed_.notify_all();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  const std::string text = "restart " + std::to_string(e.restarts.load()) + " in " + std::to_string(ms) + " ms";
  lock.unlock();
  if (options_.log_events) log_line(c.name, "exited (" + how + "); " + text);
  emit({ActorEvent::Kind::restarting, c.name, 0, text});
}

void supervisor::set_state(slot_id slot, slot_state state) {
  std::lock_guard guard(mutex_);
  process_->shm().slot(slot).state.store(static_cast<std::uint32_t>(state), std::memory_order_release);
  changed_.notify_all();
}

void supervisor::emit(ActorEvent event) {
  std::function<void(const ActorEvent&)> callback;
  {
    std::lock_guard guard(mutex_);
    callback = on_event_;
  }
  if (callback) callback(event);
}

void supervisor::capture_output(std::function<void(const OutputLine&)> callback) {
  std::lock_guard guard(mutex_);
  on_output_ = std::move(callback);
}

void supervisor::restart(slot_id slot) {
  int pid;
  {
    std::lock_guard guard(mutex_);
    if (slot == 0 || slot >= child_count_.load()) throw error(errc::no_such_actor, "no such actor");
    pid = children_[slot].pid;
    if (pid <= 0) return;  // already on its way to a restart, or gone for good
    children_[slot].restart_requested = true;
  }
  ::kill(-pid, SIGKILL);
}

void supervisor::signal(slot_id slot, int sig) {
  std::lock_guard guard(mutex_);
  if (slot == 0 || slot >= child_count_.load()) throw error(errc::no_such_actor, "no such actor");
  if (children_[slot].pid > 0) ::kill(children_[slot].pid, sig);
}

void supervisor::on_event(std::function<void(const ActorEvent&)> callback) {
  std::lock_guard guard(mutex_);
  on_event_ = std::move(callback);
}

bool supervisor::take_dead_letter(const delivery& d) {
  if (d.head.type != dead_letter_type) return false;
  try {
    auto record = decode<dead_letter_record>(d.payload);
    DeadLetter letter{record.actor, record.type, std::string(message_name(record.type)), record.reason,
                      ActorRef(record.sender), std::move(record.payload)};
    std::lock_guard guard(mutex_);
    dead_letters_.push_back(std::move(letter));
  } catch (const std::exception& e) {
    log_line("supervisor", std::string("undecodable dead-letter report: ") + e.what());
  }
  return true;
}

bool supervisor::join(slot_id slot, steady::duration timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    slot_entry* e = process_->entry(slot);
    return e == nullptr || is_terminal(static_cast<slot_state>(e->state.load()));
  });
}

void supervisor::shutdown() {
  std::vector<slot_id> live;
  {
    std::lock_guard guard(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    for (slot_id s = 1; s < child_count_.load(); ++s) {
      if (!is_terminal(static_cast<slot_state>(process_->shm().slot(s).state.load()))) live.push_back(s);
    }
  }
  for (slot_id s : live) close(s);
  const auto deadline = steady::now() + options_.shutdown_timeout;
  auto all_done = [&](steady::time_point until) {
    bool done = true;
    for (slot_id s : live) done = join(s, std::max<steady::duration>(until - steady::now(), {})) && done;
    return done;
  };
  if (all_done(deadline)) return;
  for (int sig : {SIGTERM, SIGKILL}) {
    for (slot_id s : live) {
      slot_entry& e = process_->shm().slot(s);
      if (is_terminal(static_cast<slot_state>(e.state.load()))) continue;
      e.no_restart.store(1);
      const int pid = e.pid.load();
      if (pid > 0) ::kill(-pid, sig);
      if (options_.log_events) log_line(children_[s].name, sig == SIGTERM ? "did not stop in time: SIGTERM" : "SIGKILL");
    }
    if (all_done(steady::now() + std::chrono::seconds(sig == SIGTERM ? 2 : 5))) return;
  }
}

ActorInfo supervisor::info(slot_id slot) const {
  std::lock_guard guard(mutex_);
  ActorInfo info;
  if (slot == 0 || slot >= child_count_.load()) return info;
  const slot_entry& e = process_->shm().slot(slot);
  const child& c = children_[slot];
  info.ref = ActorRef(slot);
  info.name = c.name;
  info.type = c.type;
  info.pid = e.pid.load();
  info.state = static_cast<ActorState>(static_cast<std::uint32_t>(e.state.load()) - 1);
  info.restarts = e.restarts.load();
  info.processed = e.processed.load();
  info.dead_letters = e.dead_letters.load();
  info.last_exit = c.last_exit;
  info.replica = c.options.replica;
  info.started = c.started;
  info.last_exit_at = c.last_exit_at;
  if (const mailbox* box = process_->shm().mailbox_at(e.mailbox)) info.queued_bytes = queued_bytes(process_->shm(), box);
  return info;
}

std::vector<ActorInfo> supervisor::actors() const {
  std::size_t count;
  {
    std::lock_guard guard(mutex_);
    count = child_count_.load();
  }
  std::vector<ActorInfo> all;
  for (slot_id s = 1; s < count; ++s) all.push_back(info(s));
  return all;
}

std::vector<DeadLetter> supervisor::dead_letters() const {
  process_->drain_inbox_now();
  std::lock_guard guard(mutex_);
  return dead_letters_;
}

}  // namespace procactor::detail
