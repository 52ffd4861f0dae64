// `procactor launch`: runs a graph under a Runtime until it drains, fails or
// is stopped.
//
// End of stream: an actor instance that exits normally has finished. When
// every instance upstream of an actor has finished, its instances are
// closed: they drain their mailboxes, run on_stop (where a sink reports),
// exit, and so pass the end on. Sources finish by returning from run().
#include <fcntl.h>
#include <cerrno>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>
#include <set>
#include <thread>

#include "commands.hpp"
#include "control.hpp"
#include "run_dir.hpp"
#include "units.hpp"

namespace procactor::launcher {
namespace {

using steady = std::chrono::steady_clock;

int g_signal_pipe[2] = {-1, -1};
// --detach: the background process writes here once its control socket
// answers, so that the foreground one returns only when the run is reachable.
int g_ready_fd = -1;

void on_stop_signal(int sig) {
  const char byte = static_cast<char>(sig);
  (void)!::write(g_signal_pipe[1], &byte, 1);
}

struct instance {
  std::size_t group = 0;  // index into graph.actors
  int replica = 0;
  std::string name;  // "worker.1"
  ActorRef ref;
  bool finished = false;  // exited for good
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
        instances_.push_back({g, static_cast<int>(r), name, {}, false});
        logs_.emplace_back(run_.dir / "logs" / (name + ".log"), std::ios::app);
      }
    }
  }

  int run(Runtime& rt);

 private:
  [[nodiscard]] std::vector<std::size_t> spawn_order() const;
  [[nodiscard]] std::vector<std::size_t> upstream_of(std::size_t group) const;
  void spawn_all(Runtime& rt);
  void print(std::size_t group, const std::string& who, const std::string& text, bool launcher_event);
  void handle(Runtime& rt, const ActorEvent& event);
  void begin_stop(std::chrono::nanoseconds timeout);
  void force_stop();
  std::string control(Runtime& rt, const std::string& request);
  std::string status_json(Runtime& rt);
  void end_of_stream();

  const Graph& graph_;
  RunEntry run_;
  bool colour_;
  std::vector<instance> instances_;
  std::map<std::string, std::size_t> by_name_;
  std::vector<std::ofstream> logs_;
  std::ofstream run_log_;
  std::mutex print_mutex_;

  std::mutex events_mutex_;
  std::condition_variable events_ready_;
  std::deque<ActorEvent> events_;
  std::deque<std::pair<std::string, std::chrono::nanoseconds>> stop_requests_;

  bool stopping_ = false;
  bool stopped_by_user_ = false;
  std::optional<steady::time_point> force_at_;
  std::string failure_;
  std::map<std::size_t, std::pair<std::uint64_t, steady::time_point>> last_sample_;  // msg/s
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

void graph_run::spawn_all(Runtime& rt) {
  const auto& policy = graph_.supervisor;
  const auto cores = std::max(1U, std::thread::hardware_concurrency());
  for (std::size_t g : spawn_order()) {
    const ActorSpec& actor = graph_.actors[g];
    SpawnOptions base;
    for (const auto& param : actor.params) base.params.set(param.name, to_runtime(param.value));
    // In a graph a normal exit is the actor's end of stream, so "permanent"
    // restarts after every abnormal exit, like transient.
    base.restart = actor.restart == RestartPolicy::temporary ? Restart::temporary : Restart::transient;
    base.max_restarts = static_cast<int>(policy.max_restarts);
    base.within = std::chrono::duration_cast<std::chrono::milliseconds>(policy.within);
    base.backoff.initial = std::chrono::duration_cast<std::chrono::milliseconds>(policy.backoff_initial);
    base.backoff.max = std::chrono::duration_cast<std::chrono::milliseconds>(policy.backoff_max);
    base.backoff.reset_after = std::chrono::duration_cast<std::chrono::milliseconds>(policy.min_uptime);
    if (policy.stall_timeout) {
      base.stall_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*policy.stall_timeout);
    }
    base.memory_limit = actor.memory_limit.value_or(0);
    base.mailbox_capacity = actor.mailbox_capacity.value_or(graph_.mailbox_capacity);
    base.nice = actor.nice.value_or(0);
    for (const auto& route : graph_.routes) {
      if (route.from != actor.name) continue;
      Route out;
      // The two enums list the same policies in the same order.
      out.policy = static_cast<procactor::RoutePolicy>(route.policy);
      for (const auto& target : instances_) {
        if (graph_.actors[target.group].name == route.to) out.targets.push_back(target.name);
      }
      base.routes.push_back(std::move(out));
    }
    for (auto& inst : instances_) {
      if (inst.group != g) continue;
      SpawnOptions options = base;
      options.replica = inst.replica;
      options.cpu = cpu_for_replica(actor.cpu, static_cast<std::uint32_t>(inst.replica), cores).value_or(-1);
      inst.ref = rt.spawn(actor.type, inst.name, options);
    }
  }
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
          if (&other == &inst || other.finished) continue;
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
  const ActorState state = rt.info(inst.ref).state;
  if (state == ActorState::exited || state == ActorState::failed || state == ActorState::killed) {
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
  nlohmann::json rows = nlohmann::json::array();
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto now = steady::now();
  for (const auto& inst : instances_) {
    const ActorInfo info = rt.info(inst.ref);
    const ActorSpec& actor = graph_.actors[inst.group];
    const double uptime = info.pid > 0 ? std::chrono::duration<double>(now - info.started).count() : 0.0;
    double cpu = 0;
    std::uint64_t rss = 0;
    if (info.pid > 0) {
      std::ifstream stat("/proc/" + std::to_string(info.pid) + "/stat");
      std::string line;
      std::getline(stat, line);
      // Fields after the parenthesised command: utime and stime are the 12th and 13th.
      std::istringstream rest(line.substr(line.rfind(')') + 2));
      std::string field;
      double utime = 0, stime = 0;
      for (int i = 1; i <= 13 && rest >> field; ++i) {
        if (i == 12) utime = std::stod(field);
        if (i == 13) stime = std::stod(field);
      }
      if (uptime > 0) cpu = 100.0 * (utime + stime) / static_cast<double>(ticks) / uptime;
      std::ifstream statm("/proc/" + std::to_string(info.pid) + "/statm");
      std::uint64_t size = 0, resident = 0;
      statm >> size >> resident;
      rss = resident * static_cast<std::uint64_t>(page);
    }
    const std::size_t index = by_name_[inst.name];
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
  nlohmann::json reply = {{"run", run_.name}, {"graph", graph_.name}, {"actors", rows}};
  return reply.dump();
}

std::string graph_run::control(Runtime& rt, const std::string& request) {
  std::istringstream words(request);
  std::string verb;
  words >> verb;
  if (verb == "status") return status_json(rt);
  if (verb == "stop") {
    long long timeout_ns = 0;
    words >> timeout_ns;
    std::lock_guard guard(events_mutex_);
    stop_requests_.emplace_back("stop", timeout_ns > 0 ? std::chrono::nanoseconds(timeout_ns) : graph_.shutdown_timeout);
    events_ready_.notify_all();
    return "ok";
  }
  if (verb == "restart" || verb == "kill") {
    std::string target;
    int sig = SIGKILL;
    words >> target >> sig;
    std::vector<const instance*> chosen;
    for (const auto& inst : instances_) {
      if (inst.name == target || graph_.actors[inst.group].name == target) chosen.push_back(&inst);
    }
    if (chosen.empty()) return "error: no actor '" + target + "' in run " + run_.name;
    for (const auto* inst : chosen) {
      if (verb == "restart") {
        rt.restart(inst->ref);
      } else {
        rt.signal(inst->ref, sig);
      }
    }
    return "ok";
  }
  return "error: unknown request '" + verb + "'";
}

int graph_run::run(Runtime& rt) {
  rt.capture_output([this](const OutputLine& line) {
    const std::string who = line.name;
    auto it = by_name_.find(who);
    if (it == by_name_.end()) return;
    print(instances_[it->second].group, who, line.text, false);
    auto& log = logs_[it->second];
    log << line.text << '\n';
    log.flush();
  });
  rt.on_event([this](const ActorEvent& event) {
    std::lock_guard guard(events_mutex_);
    events_.push_back(event);
    events_ready_.notify_all();
  });
  const auto started = steady::now();
  spawn_all(rt);
  ControlServer server(run_.dir / "control.sock", [this, &rt](const std::string& request) {
    return control(rt, request);
  });
  {
    std::ofstream pid(run_.dir / "supervisor.pid");
    pid << ::getpid() << '\n';
  }
  if (g_ready_fd >= 0) {
    (void)!::write(g_ready_fd, "r", 1);
    ::close(g_ready_fd);
    g_ready_fd = -1;
  }
  bool ready_reported = false;
  for (;;) {
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
    std::deque<std::pair<std::string, std::chrono::nanoseconds>> stops;
    {
      std::unique_lock lock(events_mutex_);
      events.swap(events_);
      stops.swap(stop_requests_);
    }
    for (const auto& event : events) handle(rt, event);
    for (const auto& stop : stops) {
      stopped_by_user_ = true;
      print(0, "procactor", "stop requested: stopping the graph", true);
      begin_stop(stop.second);
    }
    if (!ready_reported && failure_.empty() && !stopping_) {
      bool all_running = true;
      for (const auto& info : rt.actors()) all_running = all_running && info.state != ActorState::starting;
      if (all_running) {
        ready_reported = true;
        const auto ms = std::chrono::duration<double, std::milli>(steady::now() - started).count();
        char text[64];
        std::snprintf(text, sizeof text, "%.1f ms", ms);
        print(0, "procactor", std::to_string(instances_.size()) + " actors ready in " + text, true);
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
      std::cerr << "procactor: run " << run.name << " failed to start; see " << (run.dir / "launch.log").string()
                << '\n';
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

// Arena size: every lane the graph can make (one per sender and receiver
// instance pair along each route, one from the supervisor to each instance),
// each of its receiver's capacity, plus room for replies and slack.
std::size_t arena_size_for(const Graph& graph) {
  std::size_t bytes = std::size_t{16} << 20;
  for (const auto& actor : graph.actors) {
    std::size_t senders = 1;
    for (const auto& route : graph.routes) {
      if (route.to != actor.name) continue;
      if (const ActorSpec* from = graph.find_actor(route.from)) senders += from->replicas;
    }
    const std::uint64_t capacity = actor.mailbox_capacity.value_or(graph.mailbox_capacity);
    bytes += actor.replicas * senders * (capacity + 4096) + actor.replicas * (std::size_t{256} << 10);
  }
  return bytes;
}

}  // namespace

int launch_graph(const LaunchOptions& options, const Graph& graph) {
  RunEntry run = create_run(graph.name);
  int detached_code = exit_ok;
  if (options.detach && detach(run, detached_code)) return detached_code;
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  // Installed before the Runtime, which then leaves these signals to us.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

  Options runtime_options;
  runtime_options.arena_size = arena_size_for(graph);
  runtime_options.log_events = false;  // `launch` prints its own events
  runtime_options.shutdown_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(graph.shutdown_timeout);
  std::vector<std::string> args = {"procactor", "actor"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int code = exit_failure;
  {
    Runtime rt(static_cast<int>(args.size()), argv.data(), runtime_options);
    graph_run graph_run(graph, options, run);
    code = graph_run.run(rt);
  }
  return code;
}

}  // namespace procactor::launcher
