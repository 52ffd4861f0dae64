// `procactor node`: one node of a multi-node run. mpirun starts one per
// host (launch_cluster); each is a supervisor for the instances placed on
// its node, as `launch` is on one host, and has remote slots for the rest.
// Its gateway thread is the one caller of MPI (runtime/cluster/gateway.hpp),
// through the module libprocactor_mpi.so (cluster/node_gateway.hpp).
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <procactor/runtime.hpp>

#include "cluster/node_gateway.hpp"
#include "cluster_control.hpp"
#include "commands.hpp"
#include "graph_run.hpp"
#include "module.hpp"
#include "runtime_options.hpp"

namespace procactor::launcher {

namespace {

// The slot table every node builds (graph_run::spawn_all declares the
// instances in start order, each actor's replicas in order): slot 0 is the
// supervisor, on every node.
struct slot_plan {
  std::vector<int> node_of_slot;
  std::vector<std::string> names;
  std::vector<bool> balanced;  // a target of a least_loaded route
};

slot_plan plan_slots(const Graph& graph, int self) {
  slot_plan plan{{self}, {"[supervisor]"}, {false}};
  for (std::size_t a : start_order(graph)) {
    const ActorSpec& actor = graph.actors[a];
    const bool balanced = std::any_of(graph.routes.begin(), graph.routes.end(), [&](const RouteSpec& route) {
      return route.to == actor.name && route.policy == RoutePolicy::least_loaded;
    });
    for (std::uint32_t r = 0; r < actor.replicas; ++r) {
      plan.node_of_slot.push_back(static_cast<int>(node_for_replica(graph, actor, r)));
      plan.names.push_back(instance_name(actor, r));
      plan.balanced.push_back(balanced);
    }
  }
  return plan;
}

// What the other nodes send each other besides the gateway's own: the
// ordered stop ("stop NS") and the forced one, and the launching host's
// requests (cluster_control.hpp) on their way to a node and its lines on
// their way to node 0.
constexpr std::string_view ask_prefix = "ask\n";
constexpr std::string_view say_prefix = "say\n";

// The request a relayed line carries. A broken one is answered here, as
// node `node`, when its number can be read, and yields nothing.
std::optional<relay::addressed_request> read_request(graph_run& run, const std::string& line, std::size_t node) {
  auto parsed = relay::parse_request_line(line);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    if (auto id = relay::request_id(line)) run.relay(relay::reply_frame(*id, node, "error: " + *why));
    return std::nullopt;
  }
  return std::get<relay::addressed_request>(std::move(parsed));
}

// Answers the launching host's requests for this node, on a thread of its
// own: a status reads /proc for every instance, which neither the
// gateway's thread nor the run loop may wait for. Requests queued before
// start() wait for it: the node's output must reach node 0 by then.
class request_worker {
 public:
  request_worker(graph_run& run, Runtime& rt, std::size_t node) : run_(run), rt_(rt), node_(node) {}
  ~request_worker() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  request_worker(const request_worker&) = delete;
  request_worker& operator=(const request_worker&) = delete;

  void start() {
    thread_ = std::thread([this] { serve(); });
  }
  // A request for this node; from any thread.
  void post(relay::addressed_request request) {
    {
      std::lock_guard guard(mutex_);
      queue_.push_back(std::move(request));
    }
    wake_.notify_one();
  }

 private:
  void serve() {
    for (;;) {
      relay::addressed_request request;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        request = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string reply;
      try {
        reply = run_.answer(rt_, request.request);
      } catch (const std::exception& e) {
        reply = std::string("error: ") + e.what();
      }
      run_.relay(relay::reply_frame(request.id, node_, reply));
    }
  }

  graph_run& run_;
  Runtime& rt_;
  std::size_t node_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<relay::addressed_request> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// The gateway's thread: MPI from start to end, after the Runtime made its
// fork server (actors are forked from a process that never mapped MPI).
class gateway_thread {
 public:
  gateway_thread(const Graph& graph, std::size_t node, graph_run& run, request_worker& worker)
      : run_(run), worker_(worker) {
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &graph, node, ready = std::move(ready)]() mutable {
      serve(graph, node, ready);
    });
    try {
      started.get();  // rethrows what kept the link from starting
    } catch (...) {
      thread_.join();  // it has returned: a joinable thread's destructor would abort
      throw;
    }
  }
  ~gateway_thread() {
    finish();
    thread_.join();
  }
  gateway_thread(const gateway_thread&) = delete;
  gateway_thread& operator=(const gateway_thread&) = delete;

  // From the run loop's thread; nothing once the link is gone.
  void local_finished(std::uint32_t slot) {
    std::lock_guard guard(mutex_);
    if (gateway_ != nullptr) gateway_->local_finished(slot);
  }
  void broadcast(const std::string& text) {
    std::lock_guard guard(mutex_);
    if (gateway_ != nullptr) gateway_->broadcast(text);
  }
  // False once the link is gone.
  bool tell(int node, const std::string& text) {
    std::lock_guard guard(mutex_);
    if (gateway_ == nullptr) return false;
    gateway_->tell(node, text);
    return true;
  }
  void finish() {
    std::lock_guard guard(mutex_);
    if (gateway_ != nullptr) gateway_->finish();
  }
  void abandon() {
    std::lock_guard guard(mutex_);
    if (gateway_ != nullptr) gateway_->abandon();
  }

 private:
  void serve(const Graph& graph, std::size_t node, std::promise<void>& ready) {
    bool told = false;
    try {
      // Loaded now, after the Runtime made its fork server: see module.hpp.
      auto* run_gateway =
          module_function<cluster::run_node_gateway_fn>(cluster::node_gateway_module, cluster::run_node_gateway_symbol);
      slot_plan plan = plan_slots(graph, static_cast<int>(node));
      cluster::node_gateway_setup setup;
      setup.node = node;
      setup.nodes = graph.cluster->nodes.size();
      setup.node_name = graph.cluster->nodes[node].name;
      for (const auto& each : graph.cluster->nodes) setup.node_names.push_back(each.name);
      setup.node_of_slot = std::move(plan.node_of_slot);
      setup.names = std::move(plan.names);
      setup.balanced = std::move(plan.balanced);
      setup.spin = graph.cluster->gateway_spin;
      setup.remote_finished = [this](std::uint32_t slot) { run_.remote_finished(slot); };
      setup.control = [this, node](int, const std::string& text) {
        if (text.starts_with(say_prefix)) {
          run_.relay(text.substr(say_prefix.size()));
        } else if (text.starts_with(ask_prefix)) {
          if (auto request = read_request(run_, text.substr(ask_prefix.size()), node)) worker_.post(std::move(*request));
        } else if (text == "force") {
          run_.remote_stop(true);
        } else if (text.starts_with(node_fail_prefix)) {
          run_.node_failed(text.substr(node_fail_prefix.size()));
        } else if (text.starts_with("stop")) {
          long long ns = 0;
          const bool timed = std::sscanf(text.c_str(), "stop %lld", &ns) == 1 && ns >= 0;
          run_.remote_stop(false, timed ? std::optional(std::chrono::nanoseconds(ns)) : std::nullopt);
        }
      };
      setup.running = [this, &ready, &told](cluster::node_gateway* gateway) {
        {
          std::lock_guard guard(mutex_);
          gateway_ = gateway;
        }
        if (gateway != nullptr && !told) {
          ready.set_value();
          told = true;
        }
      };
      run_gateway(setup);
    } catch (const std::exception& e) {
      if (!told) {
        ready.set_exception(std::current_exception());
        return;
      }
      run_.link_failed(std::string("the link between the nodes failed: ") + e.what());
    }
  }

  graph_run& run_;
  request_worker& worker_;
  std::mutex mutex_;
  cluster::node_gateway* gateway_ = nullptr;  // while it runs; guarded by mutex_
  std::thread thread_;
};

// Node 0 reads the launching host's requests from its standard input
// (mpirun passes its own on to rank 0 only), and passes each to the node
// it is for.
class request_reader {
 public:
  request_reader(graph_run& run, request_worker& worker, gateway_thread& gateway, std::size_t nodes)
      : run_(run), worker_(worker), gateway_(gateway), nodes_(nodes) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    thread_ = std::thread([this] { serve(); });
  }
  ~request_reader() {
    const std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    ::close(stop_fd_);
  }
  request_reader(const request_reader&) = delete;
  request_reader& operator=(const request_reader&) = delete;

 private:
  void serve() {
    std::string pending;
    char buffer[4096];
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if ((fds[1].revents & POLLIN) != 0) return;
      const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the launching process is gone, or never wrote
      pending.append(buffer, static_cast<std::size_t>(n));
      std::size_t end = 0;
      while ((end = pending.find('\n')) != std::string::npos) {
        pass_on(pending.substr(0, end));
        pending.erase(0, end + 1);
      }
      // A line longer than any request is not one: dropped, not buffered.
      if (pending.size() > 2 * max_request_bytes) pending.clear();
    }
  }

  void pass_on(const std::string& line) {
    auto request = read_request(run_, line, 0);
    if (!request) return;
    const std::uint64_t id = request->id;
    const std::size_t node = request->node;
    if (node == 0) {
      worker_.post(std::move(*request));
    } else if (node >= nodes_) {
      run_.relay(relay::reply_frame(id, node, "error: the run has no node number " + std::to_string(node)));
    } else if (!gateway_.tell(static_cast<int>(node), std::string(ask_prefix) + line)) {
      run_.relay(relay::reply_frame(id, node, "error: the link to the other nodes is gone"));
    }
  }

  graph_run& run_;
  request_worker& worker_;
  gateway_thread& gateway_;
  std::size_t nodes_;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace

int run_node(const Graph& graph, const std::string& node_name, const std::string& whole_run) {
  if (!graph.cluster) {
    std::cerr << "procactor: error: the graph has no [cluster]: node " << node_name
              << " is one node of a graph placed on several (procactor launch runs a graph without [cluster])\n";
    return exit_usage;
  }
  if (graph.cluster->find_node(node_name) == nullptr) {
    std::cerr << "procactor: error: the graph has no node '" << node_name << "' in [cluster]\n";
    return exit_usage;
  }
  const auto node = static_cast<std::size_t>(graph.cluster->find_node(node_name) - graph.cluster->nodes.data());
  node_setup setup;
  setup.name = node_name;
  setup.whole_run = whole_run;
  setup.run = [&graph, node, node_name](graph_run& run, Runtime& rt) {
    request_worker worker(run, rt, node);
    std::unique_ptr<gateway_thread> gateway;
    try {
      gateway = std::make_unique<gateway_thread>(graph, node, run, worker);
    } catch (const std::exception& e) {
      return run.failed_to_start(std::string("cannot join the other nodes: ") + e.what());
    }
    node_role role;
    role.index = node;
    role.name = node_name;
    role.local_finished = [&gateway](std::uint32_t slot) { gateway->local_finished(slot); };
    role.broadcast = [&gateway](const std::string& text) { gateway->broadcast(text); };
    role.emit = [&gateway](const std::string& line) { return gateway->tell(0, std::string(say_prefix) + line); };
    run.set_node(std::move(role));
    worker.start();
    int code = exit_failure;
    {
      std::optional<request_reader> reader;
      if (node == 0) reader.emplace(run, worker, *gateway, graph.cluster->nodes.size());
      code = run.run(rt);
    }
    // What this node prints from now on (the runtime's last output lines)
    // goes to its stderr: the link closes.
    run.close_node_output();
    // A job that mpirun or srun is ending has a node gone: no handshake
    // (srun would wait KillWait, 30 s by default, before its SIGKILL).
    if (run.job_ended()) {
      gateway->abandon();
    } else {
      gateway->finish();
    }
    gateway.reset();  // joins: the link's close handshake with every node
    return code;
  };
  LaunchOptions options;
  options.color = false;  // mpirun's output is not a terminal of ours
  return launch_graph(options, graph, setup);
}

}  // namespace procactor::launcher
