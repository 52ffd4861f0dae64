#include "supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <utility>

#include "exit_paths.hpp"
#include "futex.hpp"
#include "registry.hpp"
#include "timer.hpp"

namespace procactor::detail {
namespace {

// Lanes of a reply inbox: replies are small, large ones travel as blobs.
constexpr std::uint64_t inbox_lane_capacity = 64 * 1024;
constexpr auto monitor_tick = std::chrono::milliseconds(250);

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

// A sender's lane starts at initial_lane_capacity and grows up to its
// capacity, inside the arena: a smaller or a larger one could hold nothing,
// and every send would find it full.
void check_lane_capacity(std::uint64_t capacity, const std::string& what, std::uint64_t arena_size) {
  if (capacity >= initial_lane_capacity && capacity <= arena_size) return;
  throw error(errc::invalid_argument, what + " of " + std::to_string(capacity) + " bytes: a lane holds from " +
                                          std::to_string(initial_lane_capacity) + " bytes up to Options::arena_size (" +
                                          std::to_string(arena_size) + ")");
}

// A spawn's params against what its type declares (parameters()), as
// `procactor validate` checks a graph file's: refused here, naming each
// problem, rather than started as a process that fails as it starts, again
// at every restart.
void check_params(std::string_view type, std::string_view name, const Params& params,
                  const std::vector<ParamSpec>& declared) {
  std::string problems;
  const auto add = [&](const std::string& problem) { problems += (problems.empty() ? "" : "; ") + problem; };
  for (const ParamSpec& spec : declared) {
    const auto it = params.values().find(spec.name);
    if (it == params.values().end()) {
      if (spec.required) add("it needs param '" + spec.name + "' (" + std::string(describe(spec.kind)) + ")");
    } else if (const std::string problem = param_problem(spec, it->second); !problem.empty()) {
      add("param '" + spec.name + "' " + problem);
    }
  }
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
  for (const auto& entry : params.values()) {
    const std::string& key = entry.first;
    const bool known = std::any_of(declared.begin(), declared.end(), [&](const ParamSpec& s) { return s.name == key; });
    if (!known) add("unknown param '" + key + "'");
  }
  if (!problems.empty()) {
    throw error(errc::invalid_argument,
                "cannot spawn " + std::string(name) + " (" + std::string(type) + "): " + problems);
  }
}

// The waits of options the run keeps, each at most about 100 years (see
// capped()), so that every later use may add them to the clock.
void cap_waits(GroupOptions& group) { group.within = capped(group.within); }
void cap_waits(SpawnOptions& spawn) {
  spawn.backoff.initial = capped(spawn.backoff.initial);
  spawn.backoff.max = capped(spawn.backoff.max);
  spawn.backoff.reset_after = capped(spawn.backoff.reset_after);
  spawn.stall_timeout = capped(spawn.stall_timeout);
}

}  // namespace

supervisor::supervisor(std::vector<std::string> argv, Options options)
    : argv_(std::move(argv)), options_(std::move(options)) {
  if (options_.max_actors >= max_slots) options_.max_actors = max_slots - 1;
  options_.send_timeout = capped(options_.send_timeout);
  options_.shutdown_timeout = capped(options_.shutdown_timeout);
  cap_waits(options_.supervision);
  check_lane_capacity(options_.lane_capacity, "Options::lane_capacity", arena::size_for(options_.arena_size));
  // Before anything else, and before any thread of the runtime's: the fork
  // server is a copy of the program as it is now.
  const char* mode = std::getenv("PROCACTOR_SPAWN");
  if (options_.fork_server && (mode == nullptr || std::strcmp(mode, "exec") != 0) && !forks_.start()) {
    log_line("supervisor", "could not start the fork server; actors start with exec");
  }
  // The logger's thread, after the fork server (see logger.hpp).
  logger_.start(options_.logger);
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
  // The guardian first, then the segment it guards: a SIGKILL between the
  // two left the segment to the next start-up's sweep.
  const std::string run = arena::new_name();
  install_exit_paths(run);
  guardian_ = start_guardian(executable_, run, forks_);
  std::optional<arena> made;
  try {
    made.emplace(arena::create(run, options_.arena_size, options_.lane_capacity, options_.max_message_size));
  } catch (...) {
    remove_recorded_run();
    stop_guardian(guardian_);
    throw;
  }
  arena& a = *made;

  // The actors' sends and replies wait as long as the program's do.
  const auto send_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(bounded(options_.send_timeout));
  a.header()->send_timeout_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(send_timeout.count(), 1));
  slot_entry& self = a.slot(supervisor_slot);
  self.pid.store(::getpid());
  std::strncpy(self.name, "supervisor", name_length - 1);
  std::string problem;
  auto inbox = a.make_mailbox(supervisor_slot, inbox_lane_capacity, &problem);
  if (!inbox) throw error(errc::arena_exhausted, "no room for the supervisor's inbox: " + problem);
  self.inbox = *inbox;
  self.state.store(static_cast<std::uint32_t>(slot_state::running));
  a.header()->slot_count.store(1, std::memory_order_release);
  children_.size_for(options_.max_actors + 1);
  children_.add(supervisor_slot, std::make_unique<child>());
  children_[supervisor_slot].config = config_of(self);
  children_[supervisor_slot].name = "supervisor";
  groups_.push_back({"root", options_.supervision, 0, {}, {}});

  auto owned = std::make_unique<process>(std::move(a), supervisor_slot, true);
  process_ = owned.get();
  process::install(std::move(owned));
  process_->send_timeout = options_.send_timeout;
  process_->join_hook = [this](slot_id slot, steady::duration timeout) { return join(slot, timeout); };
  process_->spawn_hook = [this](std::string_view type, std::string_view name, const SpawnOptions& o) {
    return spawn(type, name, o);
  };
  process_->monitor_hook = [this](slot_id target, bool add) { monitor(target, add); };
  process_->set_inbox_handler([this](const delivery& d) { return take_system_message(d); });
  process_->start_pump();

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw_system_error("epoll_create1/eventfd", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~std::uint64_t{0};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  guardian_pidfd_ = watch_helper(guardian_.pid);
  server_pidfd_ = watch_helper(forks_.pid());
  life_.start(process_->shm().header(), [this](const early_death& death) {
    {
      std::lock_guard guard(mutex_);
      early_deaths_.push_back(death);
    }
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  });
  monitor_thread_ = std::thread([this] { monitor_loop(); });
  courier_ = std::thread([this] { courier_loop(); });
}

supervisor::~supervisor() {
  // The program's timers that have not fired never will: they end with the
  // Runtime, before its actors are closed.
  process_->timers().stop();
  shutdown();
  life_.stop();
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (monitor_thread_.joinable()) monitor_thread_.join();
  courier_wake_.notify_all();
  if (courier_.joinable()) courier_.join();
  // Incarnations whose exit was still running when they were handled: their
  // zombies are reaped here, not left to init.
  for (const auto& [pid, pidfd] : exiting_) {
    pollfd gone{pidfd, POLLIN, 0};
    (void)::poll(&gone, 1, 2000);
    (void)::waitpid(pid, nullptr, WNOHANG);
    ::close(pidfd);
  }
  // Dead actors' groups are no longer this run's for a fatal signal to kill:
  // their pids may be another's from now on.
  for (const int group : dead_groups_) {
    while (::waitpid(-group, nullptr, WNOHANG) > 0) {
    }
    forget_dying_group(group);
  }
  dead_groups_.clear();
  forks_.stop();
  process_->stop_pump();
  ::close(epoll_fd_);
  ::close(wake_fd_);
  for (const int pidfd : {guardian_pidfd_, server_pidfd_}) {
    if (pidfd >= 0) ::close(pidfd);
  }
  forget_run();
  process::uninstall();
  stop_guardian(guardian_);
  // logger_ goes last of all: everything above may still log.
}

slot_id supervisor::spawn(std::string_view type, std::string_view name, const SpawnOptions& options) {
  if (find_actor_type(type) == nullptr) {
    std::string hint = nearest(type, actor_type_names());
    throw error(errc::no_such_actor, "unknown actor type '" + std::string(type) + "'" +
                                         (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  if (const auto declared = Runtime::actor_parameters(type)) check_params(type, name, options.params, *declared);
  // Values that would act as others: a limit under 1 acted as 1, a
  // multiplier under 1 shrank the backoff, a negative jitter flipped it.
  if (options.poison_limit < 1) {
    throw error(errc::invalid_argument, "SpawnOptions::poison_limit of " + std::to_string(options.poison_limit) +
                                            " for " + std::string(name) + ": it is at least 1");
  }
  if (!(options.backoff.multiplier >= 1) || !(options.backoff.jitter >= 0 && options.backoff.jitter <= 1)) {
    throw error(errc::invalid_argument, "SpawnOptions::backoff of " + std::string(name) +
                                            ": multiplier is at least 1 and jitter from 0 to 1");
  }
  // Values that would silently mean something else: a negative delay acted
  // as none, a cpu below -1 as no pinning, a nice past the kernel's range
  // as its end.
  if (options.backoff.initial.count() < 0 || options.backoff.max.count() < 0 ||
      options.backoff.reset_after.count() < 0) {
    throw error(errc::invalid_argument,
                "SpawnOptions::backoff of " + std::string(name) + ": initial, max and reset_after are 0 or more");
  }
  if (options.stall_timeout.count() < 0) {
    throw error(errc::invalid_argument, "SpawnOptions::stall_timeout of " +
                                            std::to_string(options.stall_timeout.count()) + " ms for " +
                                            std::string(name) + ": 0 (no watchdog) or more");
  }
  if (options.cpu < -1) {
    throw error(errc::invalid_argument, "SpawnOptions::cpu of " + std::to_string(options.cpu) + " for " +
                                            std::string(name) +
                                            ": a core from 0 (taken modulo the cores online), or -1 for none");
  }
  if (options.nice < -20 || options.nice > 19) {
    throw error(errc::invalid_argument, "SpawnOptions::nice of " + std::to_string(options.nice) + " for " +
                                            std::string(name) + ": a nice level from -20 to 19");
  }
  std::promise<void> started;
  auto done = started.get_future();
  slot_id slot;
  {
    std::lock_guard guard(mutex_);
    slot = add_slot(type, name, options, false);
    start_requests_.emplace_back(slot, std::move(started));
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  done.get();  // rethrows a failed posix_spawn
  return slot;
}

slot_id supervisor::declare_remote(std::string_view type, std::string_view name, const SpawnOptions& options) {
  std::lock_guard guard(mutex_);
  return add_slot(type, name, options, true);
}

namespace {

// `value`, cereal-encoded, in a block of the arena of its own: where it lies
// and how long it is. The block is never freed (the arena only grows).
template <class T>
std::pair<std::uint64_t, std::uint64_t> store_encoded(const arena& a, const T& value, std::string_view owner) {
  encoder local;
  auto bytes = local.encode(value);
  std::string why;
  auto at = a.allocate(bytes.size(), &why);
  if (!at) throw error(errc::arena_exhausted, "no room for " + std::string(owner) + "'s parameters: " + why);
  std::memcpy(a.at<std::byte>(*at, bytes.size()), bytes.data(), bytes.size());
  return {*at, bytes.size()};
}

}  // namespace

// The slot entry, mailbox and inbox of a new actor, under mutex_. A remote
// one is running at once, for senders, and has no process here: it is in
// no group, and nothing here starts, stops or restarts it.
slot_id supervisor::add_slot(std::string_view type, std::string_view name, const SpawnOptions& options, bool remote) {
  if (name.empty() || name.size() >= name_length || type.size() >= name_length) {
    throw error(errc::invalid_argument, "actor names and types must be 1 to " + std::to_string(name_length - 1) + " bytes");
  }
  const arena& a = process_->shm();
  auto made = std::make_unique<child>();
  slot_id slot;
  {
    if (shut_down_) throw error(errc::closed, "the runtime is shutting down");
    if (find(name) != no_slot) throw error(errc::invalid_argument, "an actor named '" + std::string(name) + "' already exists");
    if (options.group.id() >= groups_.size()) {
      throw error(errc::invalid_argument, "no supervision group " + std::to_string(options.group.id()) + " in this run");
    }
    if (gave_up_) throw error(errc::closed, "supervision has ended: " + *gave_up_);
    slot = a.header()->slot_count.load();
    if (slot > options_.max_actors) {
      throw error(errc::invalid_argument,
                  "too many actors in this run (Options::max_actors = " + std::to_string(options_.max_actors) +
                      "; every actor spawned counts, also one closed, killed or of a pool that is gone)");
    }
    // The mailboxes, parameters and routes first: a spawn that finds no room
    // for one of them fails before it writes anything into the slot, which
    // the next spawn then takes as the arena gave it.
    if (options.mailbox_capacity != 0) {
      check_lane_capacity(options.mailbox_capacity, std::string(name) + "'s SpawnOptions::mailbox_capacity",
                          a.size());
    }
    const std::uint64_t capacity = options.mailbox_capacity != 0 ? options.mailbox_capacity : options_.lane_capacity;
    std::string problem;
    auto box = a.make_mailbox(slot, capacity, &problem);
    auto inbox = box ? a.make_mailbox(slot, inbox_lane_capacity, &problem) : std::nullopt;
    if (!box || !inbox) throw error(errc::arena_exhausted, "no room for " + std::string(name) + "'s mailbox: " + problem);
    // Parameters and routes are copied into the arena once, for every
    // incarnation to read (routes again by set_routes).
    std::pair<std::uint64_t, std::uint64_t> params{}, routes{};
    if (!options.params.values().empty()) params = store_encoded(a, options.params, name);
    if (!options.routes.empty()) routes = store_encoded(a, options.routes, name);
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
    e.mailbox = *box;
    e.inbox = *inbox;
    std::tie(e.params, e.params_length) = params;
    std::tie(e.routes, e.routes_length) = routes;
    e.state.store(static_cast<std::uint32_t>(remote ? slot_state::running : slot_state::starting),
                  std::memory_order_release);
    a.header()->slot_count.store(slot + 1, std::memory_order_release);
    children_.add(slot, std::move(made));
    child& c = children_[slot];
    c.config = config_of(e);
    c.type = type;
    c.name = name;
    c.options = options;
    cap_waits(c.options);
    c.group = options.group.id();
    c.remote = remote;
    if (!remote) groups_[c.group].members.push_back({false, slot});
    child_count_.store(slot + 1);
  }
  if (!remote) life_.cover(slot + 1);
  return slot;
}

Group supervisor::group(std::string_view name, const GroupOptions& options, Group parent) {
  std::lock_guard guard(mutex_);
  if (parent.id() >= groups_.size()) {
    throw error(errc::invalid_argument, "no supervision group " + std::to_string(parent.id()) + " in this run");
  }
  if (name.empty()) throw error(errc::invalid_argument, "a supervision group needs a name");
  for (const auto& g : groups_) {
    if (g.name == name) throw error(errc::invalid_argument, "a supervision group named '" + std::string(name) + "' already exists");
  }
  const auto id = static_cast<std::uint32_t>(groups_.size());
  groups_.push_back({std::string(name), options, parent.id(), {}, {}});
  cap_waits(groups_.back().options);
  groups_[parent.id()].members.push_back({true, id});
  return Group(id);
}

void supervisor::monitor_loop() {
  epoll_event events[32];
  steady::time_point last_slot_check{};
  for (;;) {
    int timeout_ms = polling_ ? 10 : static_cast<int>(monitor_tick.count());
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      const auto now = steady::now();
      auto wake_by = [&](steady::time_point due) {
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
        timeout_ms = std::clamp<int>(static_cast<int>(wait), 0, timeout_ms);
      };
      for (slot_id s = 1; s < child_count_.load(); ++s) {
        if (auto due = children_[s].restart_due) wake_by(*due);
        if (auto due = children_[s].stop_deadline) wake_by(*due);
      }
      if (!operations_.empty() && operations_.front().to_stop.empty() && operations_.front().stopping == 0) {
        wake_by(operations_.front().start_at);
      }

    }
    const int n = epoll_wait(epoll_fd_, events, 32, timeout_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == ~std::uint64_t{0}) {
        std::uint64_t count;
        (void)!::read(wake_fd_, &count, sizeof count);
        continue;
      }
      if ((events[i].data.u64 & helper_tag) != 0) {
        watch_helpers();
        continue;
      }
      if ((events[i].data.u64 & exiting_tag) != 0) {  // a zombie at last: reap_orphans takes it
        const int pidfd = static_cast<int>(events[i].data.u64 & 0xffffffffU);
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, pidfd, nullptr);
        ::close(pidfd);
        std::erase_if(exiting_, [&](const auto& entry) { return entry.second == pidfd; });
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
    reap_early();
    start_requested();
    advance_operations();
    start_due();
    enforce_stop_deadlines();
    reap_orphans();
    watch_for_stalls();
    if (const auto now = steady::now(); now - last_slot_check >= monitor_tick) {
      last_slot_check = now;
      check_slots();
      sweep_monitors();
      watch_helpers();
    }
  }
}

void supervisor::start_requested() {
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
}

void supervisor::start_due() {
  std::vector<slot_id> due;
  std::vector<std::pair<slot_id, const char*>> ended;  // and why
  {
    std::lock_guard guard(mutex_);
    const auto now = steady::now();
    for (slot_id s = 1; s < child_count_.load(); ++s) {
      if (!children_[s].restart_due) continue;
      slot_entry& e = process_->shm().slot(s);
      const mailbox* box = process_->shm().mailbox_at(e.mailbox);
      const bool closed = box != nullptr && box->closed.load(std::memory_order_acquire) == mailbox_closed;
      // Killed while waiting out its backoff, it stays down; closed then (a
      // stop, the end of its input, a shutdown), it handles what is queued
      // for it now, not after the backoff, or with nothing queued it ends
      // (decide_after_exit's rule for a closed actor that fails). Whoever
      // waits for its end (a monitor, the launcher) hears of it.
      const bool killed = e.no_restart.load() != 0;
      if (killed || (closed && queued_bytes(process_->shm(), box) == 0)) {
        children_[s].restart_due.reset();
        children_[s].dead_lettering = true;
        e.state.store(static_cast<std::uint32_t>(killed ? slot_state::killed : slot_state::failed),
                      std::memory_order_release);
        changed_.notify_all();
        ended.emplace_back(s, killed ? "killed while waiting to restart"
                                     : "closed while waiting to restart, with nothing queued: not restarted");
      } else if (*children_[s].restart_due <= now || closed) {
        due.push_back(s);
      }
    }
  }
  for (const auto& [s, why] : ended) {
    if (options_.log_events) log_line(children_[s].name, why);
    // What waits in its mailbox (a killed one's queue, or what a sender put
    // there as it closed) becomes dead letters, as at any end for good.
    dead_letter_queued(s, why, false);
    {
      std::lock_guard guard(mutex_);
      children_[s].dead_lettering = false;
      changed_.notify_all();
    }
    emit({ActorEvent::Kind::exited, children_[s].name, 0, why, {}});
    send_downs(s, false);
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
}

// Asks an incarnation to stop: after the message in hand (or, with `drain`,
// once its mailbox is empty), on_stop, exit. enforce_stop_deadlines()
// escalates when it takes longer than `timeout`.
void supervisor::request_stop(slot_id slot, stop_reason reason, bool drain, steady::duration timeout) {
  child& c = children_[slot];
  if (c.pid <= 0) return;
  c.stopping = reason;
  c.drain = drain;
  c.stop_stage = 0;
  c.stop_deadline = steady::now() + timeout;
  const slot_entry& e = process_->shm().slot(slot);
  if (mailbox* box = process_->shm().mailbox_at(e.mailbox)) {
    // A mailbox already closed drains anyway; that close is the user's.
    std::uint32_t open = mailbox_open;
    box->closed.compare_exchange_strong(open, drain ? mailbox_draining : mailbox_stopping, std::memory_order_acq_rel);
    box->wake_seq.fetch_add(1, std::memory_order_release);
    futex_wake(box->wake_seq, INT32_MAX);
  }
}

// An incarnation is being started: start() has set the slot `starting`
// and not yet recorded the new process's pid, which may already run and
// answer (it publishes its own pid in the slot first thing). Waits, with
// mutex_ held by `lock`, until the start is done (or has failed), so that a
// signal or a restart asked meanwhile reaches that process instead of
// being dropped; start_wait at most.
void supervisor::await_start(std::unique_lock<std::mutex>& lock, slot_id slot) {
  const child& c = children_[slot];
  const auto starting = [&] {
    const auto state = static_cast<slot_state>(process_->shm().slot(slot).state.load(std::memory_order_acquire));
    return !c.remote && c.pid <= 0 && (state == slot_state::starting || state == slot_state::running);
  };
  changed_.wait_for(lock, start_wait, [&] { return !starting(); });
}

bool supervisor::restart(slot_id slot, const RestartOptions& options) {
  std::unique_lock lock(mutex_);
  if (slot == 0 || slot >= child_count_.load()) throw error(errc::no_such_actor, "no such actor");
  await_start(lock, slot);
  child& c = children_[slot];
  // On its way to its group's restart, or gone for good: left as it is.
  // Killed for good (ActorRef::kill, a shutdown's escalation) is gone for
  // good at once, before its exit is seen.
  if (c.in_group_restart || process_->shm().slot(slot).no_restart.load() != 0) return false;
  if (c.pid <= 0) {
    // Down, waiting out its backoff: asked to restart, it starts now (as
    // OTP's restart_child would), not counted again.
    if (!c.restart_due) return false;
    if (*c.restart_due > steady::now()) {
      c.restart_due = steady::now();
      const std::uint64_t one = 1;
      (void)!::write(wake_fd_, &one, sizeof one);
    }
    return true;
  }
  if (options.force) {
    c.stopping = stop_reason::restart_request;
    c.exit_cause = "restart on request (forced)";
    ::kill(-c.pid, SIGKILL);
    return true;
  }
  c.exit_cause = "restart on request";
  request_stop(slot, stop_reason::restart_request, options.drain,
               bounded(options.timeout.value_or(options_.shutdown_timeout)));
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // the monitor loop times the deadline
  return true;
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

void supervisor::signal(slot_id slot, int sig) {
  // kill() would refuse it (EINVAL), and the caller hear nothing of it.
  if (sig <= 0 || sig >= NSIG) throw error(errc::invalid_argument, "no signal " + std::to_string(sig));
  std::unique_lock lock(mutex_);
  if (slot == 0 || slot >= child_count_.load()) throw error(errc::no_such_actor, "no such actor");
  await_start(lock, slot);
  if (children_[slot].pid > 0 && ::kill(children_[slot].pid, sig) == 0) children_[slot].signalled = sig;
}

// The new routes go into a block of their own, published under the slot's
// seqlock (routes_epoch): the running incarnation switches at its next emit,
// and the next incarnation starts with them. The private copy that
// check_slots compares against changes with them, under the same lock.
void supervisor::set_routes(slot_id slot, const std::vector<Route>& routes) {
  std::lock_guard guard(mutex_);
  if (slot == 0 || slot >= child_count_.load()) throw error(errc::no_such_actor, "no such actor");
  child& c = children_[slot];
  if (c.remote) throw error(errc::invalid_argument, c.name + " runs on another node: set its routes there");
  const arena& a = process_->shm();
  slot_entry& e = a.slot(slot);
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  if (!routes.empty()) std::tie(offset, length) = store_encoded(a, routes, c.name);
  const std::uint32_t epoch = e.routes_epoch.load(std::memory_order_relaxed) & ~1U;
  e.routes_epoch.store(epoch + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::atomic_ref(e.routes).store(offset, std::memory_order_relaxed);
  std::atomic_ref(e.routes_length).store(length, std::memory_order_relaxed);
  e.routes_epoch.store(epoch + 2, std::memory_order_release);
  c.options.routes = routes;
  c.config = config_of(e);
}

void supervisor::on_event(std::function<void(const ActorEvent&)> callback) {
  std::lock_guard guard(mutex_);
  on_event_ = std::move(callback);
}

bool supervisor::join(slot_id slot, steady::duration timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    slot_entry* e = process_->entry(slot);
    return e == nullptr || (is_terminal(static_cast<slot_state>(e->state.load())) && !children_[slot].dead_lettering);
  });
}

void supervisor::shutdown() {
  std::vector<slot_id> live;
  {
    std::lock_guard guard(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    for (slot_id s = 1; s < child_count_.load(); ++s) {
      if (children_[s].remote) continue;
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
      if (pid <= 0) continue;  // waiting to restart: start_due settles it
      ::kill(-pid, sig);
      if (options_.log_events) log_line(children_[s].name, sig == SIGTERM ? "did not stop in time: SIGTERM" : "SIGKILL");
    }
    // After SIGKILL, a while for the exits to be seen.
    if (all_done(steady::now() + (sig == SIGTERM ? steady::duration(term_grace) : std::chrono::seconds(5)))) return;
  }
}

}  // namespace procactor::detail
