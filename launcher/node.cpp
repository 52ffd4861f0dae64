// `procactor node`: one node of a multi-node run. mpirun starts one per
// host (launch_cluster); each is a supervisor for the instances placed on
// its node, as `launch` is on one host, and has remote slots for the rest.
// Its gateway thread is the one caller of MPI (runtime/cluster/gateway.hpp).
#include <signal.h>

#include <future>
#include <mutex>
#include <iostream>
#include <thread>

#include <procactor/runtime.hpp>

#include "cluster/gateway.hpp"
#include "commands.hpp"
#include "graph_run.hpp"
#include "runtime_options.hpp"

namespace procactor::launcher {

namespace {

// The slot table every node builds (graph_run::spawn_all declares the
// instances in start order, each actor's replicas in order): slot 0 is the
// supervisor, on every node.
struct slot_plan {
  std::vector<int> node_of_slot;
  std::vector<std::string> names;
};

slot_plan plan_slots(const Graph& graph, int self) {
  slot_plan plan{{self}, {"[supervisor]"}};
  for (std::size_t a : start_order(graph)) {
    const ActorSpec& actor = graph.actors[a];
    for (std::uint32_t r = 0; r < actor.replicas; ++r) {
      plan.node_of_slot.push_back(static_cast<int>(node_for_replica(graph, actor, r)));
      plan.names.push_back(instance_name(actor, r));
    }
  }
  return plan;
}

// The gateway's thread: MPI from start to end, after the Runtime made its
// fork server (actors are forked from a process that never saw MPI).
class gateway_thread {
 public:
  gateway_thread(const Graph& graph, std::size_t node, graph_run& run) : run_(run) {
    std::promise<void> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &graph, node, ready = std::move(ready)]() mutable {
      serve(graph, node, ready);
    });
    started.get();  // rethrows what kept the link from starting
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
  void finish() {
    std::lock_guard guard(mutex_);
    if (gateway_ != nullptr) gateway_->finish();
  }

 private:
  void serve(const Graph& graph, std::size_t node, std::promise<void>& ready) {
    bool told = false;
    try {
      int argc = 0;
      char** argv = nullptr;
      cluster::environment mpi(argc, argv);
      const std::size_t nodes = graph.cluster->nodes.size();
      if (static_cast<std::size_t>(mpi.size()) != nodes || static_cast<std::size_t>(mpi.rank()) != node) {
        throw std::runtime_error("this is MPI rank " + std::to_string(mpi.rank()) + " of " +
                                 std::to_string(mpi.size()) + ", but node " + graph.cluster->nodes[node].name +
                                 " is number " + std::to_string(node) + " of the graph's " + std::to_string(nodes) +
                                 ": start the nodes with `procactor launch`, which gives mpirun one app context "
                                 "per node in [cluster] order");
      }
      // A node that loses another waits past Open MPI's own detection (its
      // daemons' keepalive, about 3 s with the launcher's settings): then
      // the daemon on a cut-off host has ended the job there before this
      // node ends, and never sits on an exit report no one acknowledges.
      cluster::link_options options;
      options.peer_timeout = std::chrono::milliseconds(6000);
      cluster::mpi_link link(mpi, options);
      slot_plan plan = plan_slots(graph, mpi.rank());
      cluster::gateway_hooks hooks;
      hooks.remote_finished = [this](std::uint32_t slot) { run_.remote_finished(slot); };
      hooks.control = [this](int, const std::string& text) {
        if (text == "stop" || text == "force") run_.remote_stop(text == "force");
      };
      cluster::idle_policy idle;
      if (graph.cluster->gateway_spin) idle.spin = std::chrono::microseconds::max();
      cluster::gateway gateway(link, std::move(plan.node_of_slot), plan.names, std::move(hooks), idle);
      const auto publish = [this](cluster::gateway* g) {
        std::lock_guard guard(mutex_);
        gateway_ = g;
      };
      publish(&gateway);
      ready.set_value();
      told = true;
      try {
        gateway.run();
      } catch (...) {
        publish(nullptr);
        throw;
      }
      publish(nullptr);
    } catch (const std::exception& e) {
      if (!told) {
        ready.set_exception(std::current_exception());
        return;
      }
      run_.link_failed(std::string("the link between the nodes failed: ") + e.what());
    }
  }

  graph_run& run_;
  std::mutex mutex_;
  cluster::gateway* gateway_ = nullptr;  // while it runs; guarded by mutex_
  std::thread thread_;
};

}  // namespace

int run_node(const Graph& graph, const std::string& node_name) {
  if (!graph.cluster || graph.cluster->find_node(node_name) == nullptr) {
    std::cerr << "procactor: error: the graph has no node '" << node_name << "' in [cluster]\n";
    return exit_usage;
  }
  const auto node = static_cast<std::size_t>(graph.cluster->find_node(node_name) - graph.cluster->nodes.data());
  node_setup setup;
  setup.name = node_name;
  setup.run = [&graph, node, node_name](graph_run& run, Runtime& rt) {
    std::unique_ptr<gateway_thread> gateway;
    try {
      gateway = std::make_unique<gateway_thread>(graph, node, run);
    } catch (const std::exception& e) {
      return run.failed_to_start(std::string("cannot join the other nodes: ") + e.what());
    }
    node_role role;
    role.index = node;
    role.name = node_name;
    role.local_finished = [&gateway](std::uint32_t slot) { gateway->local_finished(slot); };
    role.broadcast = [&gateway](const std::string& text) { gateway->broadcast(text); };
    run.set_node(std::move(role));
    const int code = run.run(rt);
    gateway->finish();
    gateway.reset();  // joins: the link's close handshake with every node
    return code;
  };
  LaunchOptions options;
  options.color = false;  // mpirun's output is not a terminal of ours
  return launch_graph(options, graph, setup);
}

}  // namespace procactor::launcher
