// `procactor launch`: runs a graph under a Runtime until it drains, fails or
// is stopped.
//
// End of stream: an actor instance that exits normally has finished. When
// every instance upstream of an actor has finished, its instances are
// closed: they drain their mailboxes, run on_stop (where a sink reports),
// exit, and so pass the end on. Sources finish by returning from run().
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "control.hpp"
#include "run_dir.hpp"
#include "units.hpp"

namespace procactor::launcher {
namespace {

using steady = std::chrono::steady_clock;

int g_signal_pipe[2] = {-1, -1};
// Set with the byte in the pipe, so that a long start-up (a thousand
// spawns) can notice a Ctrl-C between two spawns.
volatile sig_atomic_t g_signalled = 0;
// --detach: the background process writes here once every actor is
// spawned, so that the foreground one returns only when the run is
// reachable and whole.
int g_ready_fd = -1;

void on_stop_signal(int sig) {
  g_signalled = 1;
  const char byte = static_cast<char>(sig);
  (void)!::write(g_signal_pipe[1], &byte, 1);
}

struct instance {
  std::size_t group = 0;  // index into graph.actors
  int replica = 0;
  std::string name;  // "worker.1"
  ActorRef ref;      // invalid until spawned; guarded by graph_run::refs_mutex_
  bool finished = false;  // exited for good, or never started
  bool ready = false;     // has run (or finished): counted by the ready line
};

procactor::ParamValue to_runtime(const launcher::ParamValue& value) {
  return std::visit(
      [](const auto& v) -> procactor::ParamValue {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::vector<bool>>) {
          return std::vector<std::int64_t>(v.begin(), v.end());
        } else {
          return v;
        }
      },
      value);
}

// A stable colour per actor, when writing to a terminal (never under NO_COLOR).
std::string colour_of(std::size_t group) {
  static const char* palette[] = {"\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[91m"};
  return palette[group % std::size(palette)];
}

std::size_t instance_count(const Graph& graph) {
  std::size_t count = 0;
  for (const auto& actor : graph.actors) count += actor.replicas;
  return count;
}

class graph_run {
 public:
  graph_run(const Graph& graph, const LaunchOptions& options, RunEntry run)
      : graph_(graph), run_(std::move(run)), colour_(options.color && ::isatty(STDOUT_FILENO) != 0 &&
                                                      std::getenv("NO_COLOR") == nullptr) {
    run_log_.open(run_.dir / "run.log", std::ios::app);
    for (std::size_t g = 0; g < graph_.actors.size(); ++g) {
      for (std::uint32_t r = 0; r < graph_.actors[g].replicas; ++r) {
        const std::string name = graph_.actors[g].name + "." + std::to_string(r);
        by_name_[name] = instances_.size();
        instances_.push_back({g, static_cast<int>(r), name, {}, false, false});
        // Every instance has its log file from the start, so `logs RUN
        // NAME.N` works for a silent one; it is opened for writing only when
        // there is something to write, so idle actors cost no descriptor.
        std::ofstream(log_path(instances_.size() - 1), std::ios::app);
      }
    }
    logs_.resize(instances_.size());
  }

  int run(Runtime& rt);
  // The Runtime could not even be made: the run ends before it began.
  int failed_to_start(const std::string& why);

 private:
  [[nodiscard]] std::vector<std::size_t> spawn_order() const;
  [[nodiscard]] std::vector<std::size_t> upstream_of(std::size_t group) const;
  [[nodiscard]] std::filesystem::path log_path(std::size_t index) const {
    return run_.dir / "logs" / (instances_[index].name + ".log");
  }
  [[nodiscard]] SpawnOptions spawn_options(std::size_t group) const;
  bool spawn_all(Runtime& rt);
  [[nodiscard]] bool stop_pending();
  void print(std::size_t group, const std::string& who, const std::string& text, bool launcher_event);
  void handle(Runtime& rt, const ActorEvent& event);
  void observe(instance& inst, const ActorInfo& info);
  bool all_ready(Runtime& rt);
  void begin_stop(std::chrono::nanoseconds timeout);
  void force_stop();
  std::string control(Runtime& rt, const ControlRequest& request);
  std::string status_json(Runtime& rt);
  void end_of_stream();
  int finish(std::chrono::steady_clock::time_point started);

  const Graph& graph_;
  RunEntry run_;
  bool colour_;
  std::vector<instance> instances_;
  std::map<std::string, std::size_t> by_name_;
  std::vector<std::unique_ptr<std::ofstream>> logs_;  // written on the runtime's monitor thread only
  std::ofstream run_log_;
  std::mutex print_mutex_;
  std::mutex refs_mutex_;  // the control thread reads refs while spawn_all writes them

  std::mutex events_mutex_;
  std::deque<ActorEvent> events_;
  std::deque<std::chrono::nanoseconds> stop_requests_;

  bool stopping_ = false;
  bool stopped_by_user_ = false;
  std::optional<steady::time_point> force_at_;
  std::string failure_;
  std::size_t ready_count_ = 0;
  std::map<std::size_t, std::pair<std::uint64_t, steady::time_point>> last_sample_;  // msg/s, control thread only
};

std::vector<std::size_t> graph_run::upstream_of(std::size_t group) const {
  std::vector<std::size_t> upstream;
  for (const auto& route : graph_.routes) {
    if (route.to != graph_.actors[group].name) continue;
    for (std::size_t g = 0; g < graph_.actors.size(); ++g) {
      if (graph_.actors[g].name == route.from) upstream.push_back(g);
    }
  }
  return upstream;
}

// Sinks first, sources last: when a source starts to emit, everything
// downstream of it already exists. The validator has ruled out cycles.
std::vector<std::size_t> graph_run::spawn_order() const {
  std::vector<std::size_t> order;
  std::set<std::size_t> placed;
  while (order.size() < graph_.actors.size()) {
    for (std::size_t g = 0; g < graph_.actors.size(); ++g) {
      if (placed.count(g) != 0) continue;
      bool ready = true;
      for (const auto& route : graph_.routes) {
        if (route.from != graph_.actors[g].name) continue;
        for (std::size_t d = 0; d < graph_.actors.size(); ++d) {
          if (graph_.actors[d].name == route.to && placed.count(d) == 0) ready = false;
        }
      }
      if (ready) {
        placed.insert(g);
        order.push_back(g);
      }
    }
  }
  return order;
}

void graph_run::print(std::size_t group, const std::string& who, const std::string& text, bool launcher_event) {
  std::lock_guard guard(print_mutex_);
  const std::string plain = who + " | " + text;
  if (colour_) {
    std::cout << (launcher_event ? "\033[1m" : colour_of(group)) << who << " |\033[0m " << text << '\n';
  } else {
    std::cout << plain << '\n';
  }
  std::cout.flush();
  run_log_ << plain << '\n';
  run_log_.flush();
}

bool graph_run::stop_pending() {
  if (g_signalled != 0) return true;
  std::lock_guard guard(events_mutex_);
  return !stop_requests_.empty();
}

SpawnOptions graph_run::spawn_options(std::size_t group) const {
  const ActorSpec& actor = graph_.actors[group];
  const auto& policy = graph_.supervisor;
  SpawnOptions options;
  for (const auto& param : actor.params) options.params.set(param.name, to_runtime(param.value));
  // In a graph a normal exit is the actor's end of stream, so "permanent"
  // restarts after every abnormal exit, like transient.
  options.restart = actor.restart == RestartPolicy::temporary ? Restart::temporary : Restart::transient;
  options.backoff.initial = std::chrono::duration_cast<std::chrono::milliseconds>(policy.backoff_initial);
  options.backoff.max = std::chrono::duration_cast<std::chrono::milliseconds>(policy.backoff_max);
  options.backoff.reset_after = std::chrono::duration_cast<std::chrono::milliseconds>(policy.min_uptime);
  if (policy.stall_timeout) {
    options.stall_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*policy.stall_timeout);
  }
  options.memory_limit = actor.memory_limit.value_or(0);
  options.mailbox_capacity = actor.mailbox_capacity.value_or(graph_.mailbox_capacity);
  options.nice = actor.nice.value_or(0);
  for (const auto& route : graph_.routes) {
    if (route.from != actor.name) continue;
    Route out;
    // The two enums list the same policies in the same order.
    out.policy = static_cast<procactor::RoutePolicy>(route.policy);
    for (const auto& target : instances_) {
      if (graph_.actors[target.group].name == route.to) out.targets.push_back(target.name);
    }
    options.routes.push_back(std::move(out));
  }
  return options;
}

// Returns true when every instance was spawned. A spawn that fails, or a
// stop asked for meanwhile, ends the start-up: the instances not spawned
// count as finished, so the end of stream still reaches everything that runs.
bool graph_run::spawn_all(Runtime& rt) {
  const auto cores = std::max(1U, std::thread::hardware_concurrency());
  bool complete = true;
  for (std::size_t g : spawn_order()) {
    const SpawnOptions base = spawn_options(g);
    for (auto& inst : instances_) {
      if (inst.group != g) continue;
      if (stop_pending()) {
        complete = false;
        break;
      }
      SpawnOptions options = base;
      options.replica = inst.replica;
      options.cpu =
          cpu_for_replica(graph_.actors[g].cpu, static_cast<std::uint32_t>(inst.replica), cores).value_or(-1);
      try {
        const ActorRef ref = rt.spawn(graph_.actors[g].type, inst.name, options);
        std::lock_guard guard(refs_mutex_);
        inst.ref = ref;
      } catch (const std::exception& e) {
        failure_ = "cannot start " + inst.name + ": " + e.what();
        print(0, "procactor", "stopping the graph: " + failure_, true);
        complete = false;
        break;
      }
    }
    if (!complete) break;
  }
  if (complete) return true;
  for (auto& inst : instances_) {
    if (!inst.ref.valid()) inst.finished = true;
  }
  if (!failure_.empty()) {
    begin_stop(graph_.shutdown_timeout);
    force_stop();
  }
  end_of_stream();
  return false;
}

// An instance is ready once it has run: seen running, seen finished
// normally (it ran, and may have been quick about it), or seen to have
// handled a message. Starting, or crashing before it ever ran, is not ready.
void graph_run::observe(instance& inst, const ActorInfo& info) {
  if (inst.ready) return;
  if (info.state == ActorState::running || info.state == ActorState::exited || info.processed > 0) {
    inst.ready = true;
    ++ready_count_;
  }
}

bool graph_run::all_ready(Runtime& rt) {
  for (auto& inst : instances_) {
    if (!inst.ready && inst.ref.valid()) observe(inst, rt.info(inst.ref));
  }
  return ready_count_ == instances_.size();
}

void graph_run::handle(Runtime& rt, const ActorEvent& event) {
  auto it = by_name_.find(event.name);
  if (it == by_name_.end()) return;
  instance& inst = instances_[it->second];
  switch (event.kind) {
    case ActorEvent::Kind::started:
      print(inst.group, "procactor", inst.name + " started (pid " + std::to_string(event.pid) + ")", true);
      return;
    case ActorEvent::Kind::restarting:
      print(inst.group, "procactor", inst.name + " restarting: " + event.detail, true);
      if (graph_.supervisor.strategy != RestartStrategy::one_for_one && !stopping_) {
        // one_for_all restarts every other instance; rest_for_one those
        // declared after it in the file.
        for (auto& other : instances_) {
          const bool later = other.group > inst.group || (other.group == inst.group && other.replica > inst.replica);
          if (&other == &inst || other.finished || !other.ref.valid()) continue;
          if (graph_.supervisor.strategy == RestartStrategy::one_for_all || later) rt.restart(other.ref);
        }
      }
      return;
    case ActorEvent::Kind::exited:
      print(inst.group, "procactor", inst.name + " exited (" + event.detail + ")", true);
      break;
    case ActorEvent::Kind::gave_up:
      print(inst.group, "procactor", inst.name + ": " + event.detail, true);
      failure_ = "gave up on " + inst.name + ": " + event.detail;
      break;
  }
  const ActorInfo info = rt.info(inst.ref);
  observe(inst, info);
  if (info.state == ActorState::exited || info.state == ActorState::failed || info.state == ActorState::killed) {
    inst.finished = true;
    if (!failure_.empty() && !stopping_) {
      print(0, "procactor", "stopping the graph: " + failure_, true);
      begin_stop(graph_.shutdown_timeout);
      force_stop();
    }
    end_of_stream();
  }
}

void graph_run::end_of_stream() {
  for (std::size_t g = 0; g < graph_.actors.size(); ++g) {
    const auto upstream = upstream_of(g);
    if (upstream.empty()) continue;
    bool all_done = true;
    for (const auto& inst : instances_) {
      for (std::size_t u : upstream) {
        if (inst.group == u && !inst.finished) all_done = false;
      }
    }
    if (!all_done) continue;
    for (const auto& inst : instances_) {
      if (inst.group == g && !inst.finished) inst.ref.close();
    }
  }
}

// Stop in order: close the sources; the end of stream does the rest.
void graph_run::begin_stop(std::chrono::nanoseconds timeout) {
  if (stopping_) return;
  stopping_ = true;
  force_at_ = steady::now() + timeout;
  for (const auto& inst : instances_) {
    if (upstream_of(inst.group).empty() && !inst.finished) inst.ref.close();
  }
}

void graph_run::force_stop() {
  for (const auto& inst : instances_) {
    if (!inst.finished) inst.ref.kill();
  }
}

std::string graph_run::status_json(Runtime& rt) {
  std::vector<ActorRef> refs;
  {
    std::lock_guard guard(refs_mutex_);
    for (const auto& inst : instances_) refs.push_back(inst.ref);
  }
  nlohmann::json rows = nlohmann::json::array();
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto now = steady::now();
  for (std::size_t index = 0; index < instances_.size(); ++index) {
    const instance& inst = instances_[index];
    // An instance not spawned yet reads as starting, with no pid.
    const ActorInfo info = refs[index].valid() ? rt.info(refs[index]) : ActorInfo{};
    const ActorSpec& actor = graph_.actors[inst.group];
    const double uptime = info.pid > 0 ? std::chrono::duration<double>(now - info.started).count() : 0.0;
    double cpu = 0;
    std::uint64_t rss = 0;
    if (info.pid > 0) {
      std::ifstream stat("/proc/" + std::to_string(info.pid) + "/stat");
      std::string line;
      std::getline(stat, line);
      // Fields after the parenthesised command: utime and stime are the 12th and 13th.
      const auto close = line.rfind(')');
      std::istringstream rest(close == std::string::npos || close + 2 > line.size() ? "" : line.substr(close + 2));
      std::string field;
      double utime = 0, stime = 0;
      for (int i = 1; i <= 13 && rest >> field; ++i) {
        if (i == 12) utime = std::strtod(field.c_str(), nullptr);
        if (i == 13) stime = std::strtod(field.c_str(), nullptr);
      }
      if (uptime > 0) cpu = 100.0 * (utime + stime) / static_cast<double>(ticks) / uptime;
      std::ifstream statm("/proc/" + std::to_string(info.pid) + "/statm");
      std::uint64_t size = 0, resident = 0;
      statm >> size >> resident;
      rss = resident * static_cast<std::uint64_t>(page);
    }
    double rate = 0;
    if (auto it = last_sample_.find(index); it != last_sample_.end()) {
      const double dt = std::chrono::duration<double>(now - it->second.second).count();
      if (dt > 0 && info.processed >= it->second.first) rate = static_cast<double>(info.processed - it->second.first) / dt;
    } else if (uptime > 0) {
      rate = static_cast<double>(info.processed) / uptime;
    }
    last_sample_[index] = {info.processed, now};
    const std::uint64_t capacity = actor.mailbox_capacity.value_or(graph_.mailbox_capacity);
    rows.push_back({{"name", inst.name},
                    {"type", actor.type},
                    {"pid", info.pid},
                    {"state", std::string(to_string(info.state))},
                    {"uptime_s", uptime},
                    {"restarts", info.restarts},
                    {"cpu_percent", cpu},
                    {"rss_bytes", rss},
                    {"queued_bytes", info.queued_bytes},
                    {"mailbox_capacity", capacity},
                    {"processed", info.processed},
                    {"msgs_per_s", rate},
                    {"dead_letters", info.dead_letters},
                    {"last_exit", info.last_exit},
                    {"last_exit_ago_s", info.last_exit.empty() ? 0.0
                                                               : std::chrono::duration<double>(now - info.last_exit_at).count()}});
  }
  nlohmann::json reply = {{"run", run_.name},
                          {"graph", graph_.name},
                          {"actors", rows},
                          {"shared_memory_bytes", rt.shared_memory_used()},
                          {"corruptions", rt.corruptions()}};
  return reply.dump();
}

// On the control server's thread.
std::string graph_run::control(Runtime& rt, const ControlRequest& request) {
  using Verb = ControlRequest::Verb;
  switch (request.verb) {
    case Verb::ping: return "pong";
    case Verb::status: return status_json(rt);
    case Verb::stop: {
      std::lock_guard guard(events_mutex_);
      stop_requests_.push_back(request.stop_timeout.value_or(graph_.shutdown_timeout));
      return "ok";
    }
    case Verb::restart:
    case Verb::kill: break;
  }
  std::vector<ActorRef> chosen;
  {
    std::lock_guard guard(refs_mutex_);
    for (const auto& inst : instances_) {
      const bool named = graph_.actors[inst.group].name == request.target.name &&
                         (!request.target.replica || static_cast<int>(*request.target.replica) == inst.replica);
      if (named) chosen.push_back(inst.ref);
    }
  }
  const std::string target = to_string(request.target);
  if (chosen.empty()) return "error: no actor '" + target + "' in run " + run_.name;
  std::size_t acted = 0;
  for (const ActorRef& ref : chosen) {
    // Only a live process can be restarted or signalled; one that has not
    // started yet, or has finished, is left alone.
    if (!ref.valid() || rt.info(ref).pid <= 0) continue;
    if (request.verb == Verb::restart) {
      rt.restart(ref);
    } else {
      rt.signal(ref, request.signal);
    }
    ++acted;
  }
  if (acted == 0) return "error: '" + target + "' has no running process in run " + run_.name;
  return "ok";
}

int graph_run::run(Runtime& rt) {
  rt.capture_output([this](const OutputLine& line) {
    auto it = by_name_.find(line.name);
    if (it == by_name_.end()) return;
    print(instances_[it->second].group, line.name, line.text, false);
    auto& log = logs_[it->second];
    if (!log) log = std::make_unique<std::ofstream>(log_path(it->second), std::ios::app);
    *log << line.text << '\n';
    log->flush();
  });
  rt.on_event([this](const ActorEvent& event) {
    std::lock_guard guard(events_mutex_);
    events_.push_back(event);
  });
  const auto started = steady::now();
  // Before the first spawn: `status` answers while a large graph starts.
  ControlServer server(run_.dir / "control.sock",
                       [this, &rt](const ControlRequest& request) { return control(rt, request); });
  const bool spawned = spawn_all(rt);
  if (g_ready_fd >= 0 && spawned) {
    (void)!::write(g_ready_fd, "r", 1);
    ::close(g_ready_fd);
    g_ready_fd = -1;
  }
  bool ready_reported = false;
  for (;;) {
    // Every instance has run (or finished, which it could only do by
    // running): report it once, before a stop can get in between.
    if (!ready_reported && spawned && !stopping_ && all_ready(rt)) {
      ready_reported = true;
      const auto ms = std::chrono::duration<double, std::milli>(steady::now() - started).count();
      char text[64];
      std::snprintf(text, sizeof text, "%.1f ms", ms);
      print(0, "procactor", std::to_string(instances_.size()) + " actors ready in " + text, true);
    }
    // Signals arrive through the self-pipe; events and stop requests through
    // the queue. Neither waits long, so the loop notices both quickly.
    pollfd fd{g_signal_pipe[0], POLLIN, 0};
    if (::poll(&fd, 1, 20) > 0) {
      char sig = 0;
      (void)!::read(g_signal_pipe[0], &sig, 1);
      stopped_by_user_ = true;
      if (stopping_) {
        print(0, "procactor", "stopping now", true);
        force_stop();
      } else {
        print(0, "procactor", std::string(sig == SIGINT ? "interrupted" : "terminated") +
                                  ": stopping the graph (again to force)", true);
        begin_stop(graph_.shutdown_timeout);
      }
    }
    std::deque<ActorEvent> events;
    std::deque<std::chrono::nanoseconds> stops;
    {
      std::lock_guard guard(events_mutex_);
      events.swap(events_);
      stops.swap(stop_requests_);
    }
    for (const auto& event : events) handle(rt, event);
    for (const auto& timeout : stops) {
      stopped_by_user_ = true;
      print(0, "procactor", "stop requested: stopping the graph", true);
      if (!stopping_) {
        begin_stop(timeout);
      } else if (!force_at_ || steady::now() + timeout < *force_at_) {
        force_at_ = steady::now() + timeout;  // a second, shorter stop wins
      }
    }
    if (force_at_ && steady::now() >= *force_at_) {
      print(0, "procactor", "shutdown_timeout passed: stopping the rest", true);
      force_at_.reset();
      force_stop();
    }
    bool all_finished = true;
    for (const auto& inst : instances_) all_finished = all_finished && inst.finished;
    if (all_finished) break;
  }
  return finish(started);
}

int graph_run::finish(std::chrono::steady_clock::time_point started) {
  const auto seconds = std::chrono::duration<double>(steady::now() - started).count();
  char text[64];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  int code = exit_ok;
  if (!failure_.empty()) {
    print(0, "procactor", "graph " + graph_.name + " failed after " + text + ": " + failure_, true);
    code = exit_failure;
  } else {
    print(0, "procactor", "graph " + graph_.name + (stopped_by_user_ ? " stopped after " : " finished in ") + text, true);
  }
  std::ofstream(run_.dir / "exit") << code << '\n';
  return code;
}

int graph_run::failed_to_start(const std::string& why) {
  failure_ = why;
  return finish(steady::now());
}

// Detaches into the background before any thread exists (never fork after).
// Returns true in the foreground process (which is done), false in the
// background one (which goes on to run the graph).
bool detach(const RunEntry& run, int& exit_code) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) {
    ::close(ready[1]);
    char byte = 0;
    ssize_t n;
    while ((n = ::read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    if (n != 1) {
      // The background process has ended; what it printed says why.
      std::cerr << "procactor: run " << run.name << " failed to start:\n";
      std::ifstream log(run.dir / "launch.log");
      std::cerr << log.rdbuf();
      exit_code = exit_failure;
      return true;
    }
    std::cout << "started run " << run.name << " (pid " << pid << ")\n"
              << "  procactor status " << run.name << "\n  procactor logs " << run.name << " -f\n"
              << "  procactor stop " << run.name << "\n";
    exit_code = exit_ok;
    return true;
  }
  ::close(ready[0]);
  g_ready_fd = ready[1];
  ::setsid();
  const int out = ::open((run.dir / "launch.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(out, STDERR_FILENO);
  return false;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<std::uint64_t>::max() : product;
}

// The most shared memory the graph's mailboxes can grow to: the slot
// table; per instance its mailbox and reply inbox, its parameters and
// routes, and a lane into the supervisor's inbox (dead letters); per route
// a lane from every sending instance to every receiving one, plus one from
// the supervisor to each instance, each up to the receiver's mailbox
// capacity. The runtime takes from /dev/shm only what lanes use (they start
// small and grow with traffic), so this bounds the arena; it does not
// reserve it. Saturates rather than wraps: an absurd graph gets an absurd
// number, which launch_graph() refuses.
std::uint64_t arena_size_for(const Graph& graph) {
  constexpr std::uint64_t lane_overhead = 4096;
  constexpr std::uint64_t per_instance = (32U << 10U) + (64U << 10U) + lane_overhead;
  constexpr std::uint64_t per_route_target = 8 + 64 + 8;  // a cereal'ed target name, at most 63 bytes
  std::uint64_t bytes = std::uint64_t{16} << 20U;
  for (const auto& actor : graph.actors) {
    std::uint64_t senders = 1;
    std::uint64_t route_bytes = 4096;
    for (const auto& route : graph.routes) {
      if (route.to == actor.name) {
        if (const ActorSpec* from = graph.find_actor(route.from)) senders += from->replicas;
      }
      if (route.from == actor.name) {
        if (const ActorSpec* to = graph.find_actor(route.to)) {
          route_bytes = saturating_add(route_bytes, saturating_mul(to->replicas, per_route_target));
        }
      }
    }
    std::uint64_t param_bytes = 4096;
    for (const auto& param : actor.params) {
      param_bytes += 64 + param.name.size();
      std::visit(
          [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::string>) {
              param_bytes += value.size();
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              for (const auto& s : value) param_bytes += 16 + s.size();
            } else if constexpr (requires { value.size(); }) {
              param_bytes += 8 * value.size();
            }
          },
          param.value);
    }
    const std::uint64_t capacity = actor.mailbox_capacity.value_or(graph.mailbox_capacity);
    const std::uint64_t lanes = saturating_mul(senders, saturating_add(capacity, lane_overhead));
    const std::uint64_t each = saturating_add(saturating_add(per_instance, lanes), route_bytes + param_bytes);
    bytes = saturating_add(bytes, saturating_mul(actor.replicas, each));
  }
  return bytes;
}

// Every actor maps the whole arena: past this, a graph's address space
// (and its worst case in /dev/shm) is no longer a plan but a typo.
constexpr std::uint64_t max_arena_bytes = std::uint64_t{1} << 40U;

// What a run of `graph` needs of this host, checked before anything starts
// so that it fails with a reason instead of part-way.
bool host_allows(const Graph& graph, std::size_t instances, std::uint64_t arena_bytes) {
  // The runtime raises its soft limit to the hard one; a pidfd and two
  // output pipes per actor, and the log files of the chatty ones, must fit.
  const std::uint64_t fds_needed = instances * 4 + 256;
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_max != RLIM_INFINITY &&
                      files.rlim_max < fds_needed) {
    std::cerr << "procactor: error: graph " << graph.name << " has " << instances << " actor instances, which need "
              << fds_needed << " open files in the supervisor; the hard limit is " << files.rlim_max
              << " (raise it with `ulimit -Hn` as root, or in /etc/security/limits.conf)\n";
    return false;
  }
  if (arena_bytes > max_arena_bytes) {
    std::cerr << "procactor: error: the mailboxes of graph " << graph.name << " could grow to "
              << (arena_bytes == std::numeric_limits<std::uint64_t>::max()
                      ? std::string("more than 16EiB")
                      : "about " + std::to_string((arena_bytes >> 30U) + 1) + "GiB")
              << " of shared memory (mailbox_capacity for every sender of every instance), more than the "
              << format_size(max_arena_bytes) << " a run maps; lower mailbox_capacity or the replicas\n";
    return false;
  }
  return true;
}

}  // namespace

int launch_graph(const LaunchOptions& options, const Graph& graph) {
  const std::size_t instances = instance_count(graph);
  const std::uint64_t arena_bytes = arena_size_for(graph);
  if (!host_allows(graph, instances, arena_bytes)) return exit_failure;
  RunEntry run = create_run(graph.name);
  int detached_code = exit_ok;
  if (options.detach && detach(run, detached_code)) return detached_code;
  record_supervisor(run);
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  // Installed before the Runtime, which then leaves these signals to us.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

  Options runtime_options;
  runtime_options.arena_size = std::max<std::uint64_t>(runtime_options.arena_size, arena_bytes);
  runtime_options.max_actors = static_cast<std::uint32_t>(instances);
  runtime_options.log_events = false;  // `launch` prints its own events
  runtime_options.supervision.max_restarts = static_cast<int>(graph.supervisor.max_restarts);
  runtime_options.supervision.within = std::chrono::duration_cast<std::chrono::milliseconds>(graph.supervisor.within);
  runtime_options.shutdown_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(graph.shutdown_timeout);
  std::vector<std::string> args = {"procactor", "actor"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Declared before the Runtime, so destroyed after it: the runtime's
  // monitor thread calls back into it (output lines, events) until the
  // Runtime's destructor has joined that thread.
  graph_run graph_run(graph, options, run);
  std::unique_ptr<Runtime> rt;
  try {
    rt = std::make_unique<Runtime>(static_cast<int>(args.size()), argv.data(), runtime_options);
  } catch (const std::exception& e) {
    return graph_run.failed_to_start(std::string("cannot start the runtime: ") + e.what());
  }
  if (rt->options().max_actors < instances) {
    return graph_run.failed_to_start("the runtime holds at most " + std::to_string(rt->options().max_actors) +
                                     " actors; the graph has " + std::to_string(instances));
  }
  return graph_run.run(*rt);
}

}  // namespace procactor::launcher
