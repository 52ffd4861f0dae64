#include "procactor/runtime.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <system_error>

#include "actor_host.hpp"
#include "crash_trace.hpp"
#include "fork_server.hpp"
#include "guardian.hpp"
#include "life_watch.hpp"
#include "logger.hpp"
#include "registry.hpp"
#include "spawn_support.hpp"
#include "supervisor.hpp"
#include "warm_start.hpp"

namespace procactor {
namespace {


// What a spare opened ahead (fork_server.hpp): the run's shared memory.
std::optional<detail::arena>& prepared_arena() {
  static std::optional<detail::arena> arena;
  return arena;
}

detail::arena open_arena(const std::string& run) {
  if (auto& prepared = prepared_arena(); prepared && prepared->name() == run) {
    detail::arena a = std::move(*prepared);
    prepared.reset();
    return a;
  }
  return detail::arena::open(run);
}

// Child mode: this process was started by a supervisor to host one actor.
// Never returns.
[[noreturn]] void run_child(const char* run) {
  // Die with the supervisor. Checking the parent after setting it closes the
  // window in which the supervisor died before the prctl.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char* parent = std::getenv("PROCACTOR_PARENT");
  if (parent == nullptr || ::getppid() != std::atoi(parent)) _exit(1);
  const char* slot_text = std::getenv("PROCACTOR_SLOT");
  const auto slot = static_cast<detail::slot_id>(slot_text == nullptr ? 0 : std::strtoul(slot_text, nullptr, 10));
  int code = 1;
  try {
    if (const char* plugins = std::getenv("PROCACTOR_PLUGINS")) detail::load_plugins(plugins);
    const std::string run_name = run;
    // The actor's own children must not mistake themselves for actors.
    // Forked (not exec'd) from the fork server: the supervisor's working
    // directory of now, not the server's of then.
    if (const char* cwd = std::getenv("PROCACTOR_CWD")) (void)!::chdir(cwd);
    const bool forked = std::getenv("PROCACTOR_FORKED") != nullptr;
    for (const char* var : {"PROCACTOR_RUN", "PROCACTOR_SLOT", "PROCACTOR_PARENT", "PROCACTOR_PLUGINS", "PROCACTOR_CWD",
                            "PROCACTOR_FORKED"}) {
      ::unsetenv(var);
    }
    detail::arena a = open_arena(run_name);
    if (slot == 0 || slot >= a.header()->slot_count.load() || slot >= detail::max_slots) {
      throw error(errc::no_such_actor, "slot " + std::to_string(slot) + " is not in the run");
    }
    detail::slot_entry& entry = a.slot(slot);
    // Known to refs before this process can answer anything: the supervisor
    // stores the same pid only once posix_spawn has returned.
    entry.pid.store(::getpid(), std::memory_order_release);
    // Its death is then known as it begins, not once its memory is gone.
    (void)detail::hold_life(entry.life, a.header()->life_bell[detail::life_watcher_of(slot)]);
    if (entry.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(entry.cpu % static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))), &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    if (entry.nice != 0) setpriority(PRIO_PROCESS, 0, entry.nice);
    if (entry.memory_limit != 0) {
      // The arena is mapped already and counts as address space: the limit
      // is on what the actor uses beyond it.
      const rlim_t total = entry.memory_limit + a.size();
      const rlimit limit{total, total};
      setrlimit(RLIMIT_AS, &limit);
    }
    const std::string type(entry.type, strnlen(entry.type, sizeof entry.type));
    // ps and top show the actor's name rather than "exe" (the kernel keeps 15 bytes).
    const std::string name(entry.name, strnlen(entry.name, sizeof entry.name));
    prctl(PR_SET_NAME, name.substr(0, 15).c_str());
    if (forked) detail::set_command_line("procactor-actor " + name);
    detail::install_crash_trace(name);
    // Lines reach a capturing supervisor as they are printed, not at exit.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const std::uint64_t send_timeout_ns = a.header()->send_timeout_ns;
    detail::process::install(std::make_unique<detail::process>(std::move(a), slot, false));
    if (send_timeout_ns != 0) detail::process::current()->send_timeout = std::chrono::nanoseconds(send_timeout_ns);
    detail::actor_host host(*detail::process::current(), slot);
    if (forked) host.publish_warm_pages_after_first();
    code = host.run(type);
  } catch (const std::exception& e) {
    detail::log_line("slot " + std::to_string(slot), e.what());
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // _exit, not exit: the program's static destructors belong to its main
  // path, which a child never took.
  _exit(code);
}

}  // namespace

namespace detail {

void prepare_actor_process(const char* who, const char* run, int spare_socket) noexcept {
  install_crash_trace(who);
  if (run == nullptr || *run == '\0') return;
  auto& prepared = prepared_arena();
  if (!prepared || prepared->name() != run) {
    try {
      prepared = arena::open(run);
    } catch (const std::exception&) {
      // The actor opens it itself, and says so if it cannot.
      prepared.reset();
      return;
    }
  }
  if (spare_socket < 0) return;
  // The header and the slots in use are read by every actor as it starts,
  // and warm_count once it has handled a message: their page-table entries
  // now, in the spare, not a fault each then. Only the slots in use and the
  // next 64 (this spare's actor is most likely among them): the whole table
  // of max_slots is about 110 pages, which a spare that becomes an actor at
  // once, in a burst of starts, would populate on the CPU the other starts
  // need.
#ifdef MADV_POPULATE_WRITE
  arena_header* header = prepared->header();
  constexpr std::uint32_t ahead = 64;
  const std::uint32_t in_use = header->slot_count.load(std::memory_order_relaxed);
  const std::uint32_t slots = std::min<std::uint32_t>(in_use, max_slots - ahead) + ahead;
  const auto populate = [](const void* from, const void* to) {
    constexpr std::uintptr_t page = 4096;
    const auto begin = reinterpret_cast<std::uintptr_t>(from) & ~(page - 1);
    ::madvise(reinterpret_cast<void*>(begin), reinterpret_cast<std::uintptr_t>(to) - begin, MADV_POPULATE_WRITE);
  };
  populate(header, &header->slots[slots - 1] + 1);
  populate(&header->warm_count, &header->warm_count + 1);
#endif
}

void await_request(int spare_socket) noexcept {
  // Until the run's first forked actor has published the pages a start
  // touches, look again now and then (20 ms, doubling up to 1 s).
  bool warm = false;
  int wait_ms = 20;
  for (;;) {
    if (!warm && prepared_arena()) warm = touch_warm_pages(*prepared_arena()->header(), spare_socket);
    pollfd request{spare_socket, POLLIN, 0};
    const int ready = ::poll(&request, 1, warm || !prepared_arena() ? -1 : wait_ms);
    if (ready > 0 || (ready < 0 && errno != EINTR)) return;
    wait_ms = std::min(wait_ms * 2, 1000);
  }
}

}  // namespace detail

struct Runtime::impl {
  std::unique_ptr<detail::supervisor> supervisor;
  // In a fork() copy of the program the supervisor's threads are not
  // there: its calls fail, saying so, rather than wait on them.
  detail::supervisor& sup() const {
    if (detail::process::fork_copy()) throw error(errc::not_supervisor, detail::process::none_reason());
    return *supervisor;
  }
};

std::string_view to_string(Strategy strategy) noexcept {
  switch (strategy) {
    case Strategy::one_for_one: return "one_for_one";
    case Strategy::one_for_all: return "one_for_all";
    case Strategy::rest_for_one: return "rest_for_one";
  }
  return "unknown";
}

std::string_view to_string(Restart restart) noexcept {
  switch (restart) {
    case Restart::permanent: return "permanent";
    case Restart::transient: return "transient";
    case Restart::temporary: return "temporary";
  }
  return "unknown";
}

std::string_view to_string(ActorState state) noexcept {
  switch (state) {
    case ActorState::starting: return "starting";
    case ActorState::running: return "running";
    case ActorState::restarting: return "restarting";
    case ActorState::exited: return "exited";
    case ActorState::failed: return "failed";
    case ActorState::killed: return "killed";
  }
  return "unknown";
}

Runtime::Runtime(int argc, char** argv, Options options) : impl_(std::make_unique<impl>()) {
  run_if_child();
  // The copy's threads are the one that forked, and the locks the others
  // held at the fork stay held: a run of its own could hang on them.
  if (detail::process::fork_copy()) {
    throw error(errc::not_supervisor,
                "a fork() copy of a program that runs a procactor::Runtime cannot make one: exec a program "
                "(a Runtime made after exec is a run of its own), or fork before making the Runtime");
  }
  if (detail::process::current() != nullptr) {
    throw error(errc::invalid_argument, "only one procactor::Runtime may exist in a process");
  }
  // Two modules of the program (two libraries it links) that define one
  // actor type, or one message type in two ways: which code runs, or how
  // bytes decode, would depend on link order.
  if (const std::string conflicts = detail::registration_conflicts(); !conflicts.empty()) {
    throw error(errc::invalid_argument, "the program defines types twice: " + conflicts);
  }
  std::vector<std::string> args(argv, argv + argc);
  if (args.empty()) args.emplace_back("procactor-actor");
  try {
    impl_->supervisor = std::make_unique<detail::supervisor>(std::move(args), std::move(options));
  } catch (const std::system_error& e) {
    // A thread that could not start (std::thread says only "Resource
    // temporarily unavailable"): which limit that is.
    if (e.code() != std::errc::resource_unavailable_try_again) throw;
    throw error(errc::system, std::string("cannot start a thread: ") + e.what() + detail::process_limit_note(EAGAIN));
  }
}

Runtime::~Runtime() {
  // A fork() copy's Runtime is the original's: let go of, untouched (its
  // destruction would close the original's actors and join threads the
  // copy does not have).
  if (impl_ && detail::process::fork_copy()) (void)impl_->supervisor.release();
}

ActorRef Runtime::spawn(std::string_view type, std::string_view name, SpawnOptions options) {
  return ActorRef(impl_->sup().spawn(type, name, options));
}

ActorRef Runtime::remote(std::string_view type, std::string_view name, SpawnOptions options) {
  return ActorRef(impl_->sup().declare_remote(type, name, options));
}

ActorRef Runtime::find(std::string_view name) const { return ActorRef(detail::find(name)); }
ActorInfo Runtime::info(ActorRef ref) const { return impl_->sup().info(ref.slot()); }
std::vector<ActorInfo> Runtime::actors() const { return impl_->sup().actors(); }
std::vector<DeadLetter> Runtime::dead_letters() const { return impl_->sup().dead_letters(); }
// Plain data, also in a fork() copy.
const Options& Runtime::options() const noexcept { return impl_->supervisor->options(); }
// The process is this Runtime's while it lives, except in a fork() copy,
// which has let go of it (sup() throws there).
std::uint64_t Runtime::shared_memory_used() const {
  (void)impl_->sup();
  const auto& shm = detail::process::current()->shm();
  return shm.used() + detail::blob_bytes(shm);
}
std::uint64_t Runtime::corruptions() const {
  (void)impl_->sup();
  return detail::process::current()->shm().header()->corruptions.load(std::memory_order_relaxed);
}
void Runtime::on_event(std::function<void(const ActorEvent&)> callback) { impl_->sup().on_event(std::move(callback)); }
void Runtime::shutdown() { impl_->sup().shutdown(); }
void Runtime::flush_log() { detail::flush_logger(); }
void Runtime::capture_output(std::function<void(const OutputLine&)> callback) {
  impl_->sup().capture_output(std::move(callback));
}
bool Runtime::restart(ActorRef ref, RestartOptions options) { return impl_->sup().restart(ref.slot(), options); }
Group Runtime::group(std::string_view name, GroupOptions options, Group parent) {
  return impl_->sup().group(name, options, parent);
}
void Runtime::monitor(ActorRef ref) { impl_->sup().monitor(ref.slot(), true); }
void Runtime::demonitor(ActorRef ref) { impl_->sup().monitor(ref.slot(), false); }
std::optional<Down> Runtime::next_down_within(detail::clock::duration timeout) {
  return impl_->sup().next_down(timeout);
}
std::optional<std::string> Runtime::gave_up() const { return impl_->sup().gave_up(); }
void Runtime::signal(ActorRef ref, int sig) { impl_->sup().signal(ref.slot(), sig); }

void Runtime::set_routes(ActorRef ref, std::vector<Route> routes) { impl_->sup().set_routes(ref.slot(), routes); }
void Runtime::run_if_child() {
  if (const char* run = std::getenv("PROCACTOR_GUARDIAN")) detail::run_guardian(run);
  if (const char* run = std::getenv("PROCACTOR_RUN")) run_child(run);
}

}  // namespace procactor
