// The module libprocactor_mpi.so: node_gateway.hpp's entry point, over the
// gateway and its MPI link.
#include "cluster/node_gateway.hpp"

#include <stdexcept>

#include "cluster/gateway.hpp"
#include "cluster/mpi_link.hpp"

namespace procactor::cluster {

namespace {

class running_gateway final : public node_gateway {
 public:
  explicit running_gateway(gateway& g) : gateway_(g) {}
  void local_finished(std::uint32_t slot) override { gateway_.local_finished(slot); }
  void broadcast(const std::string& text) override { gateway_.broadcast(text); }
  void tell(int node, const std::string& text) override { gateway_.tell(node, text); }
  void finish() override { gateway_.finish(); }
  void abandon() override { gateway_.abandon(); }

 private:
  gateway& gateway_;
};

void run_node_gateway(node_gateway_setup& setup) {
  int argc = 0;
  char** argv = nullptr;
  environment mpi(argc, argv);
  if (static_cast<std::size_t>(mpi.size()) != setup.nodes || static_cast<std::size_t>(mpi.rank()) != setup.node) {
    throw std::runtime_error("this is MPI rank " + std::to_string(mpi.rank()) + " of " + std::to_string(mpi.size()) +
                             ", but node " + setup.node_name + " is number " + std::to_string(setup.node) +
                             " of the graph's " + std::to_string(setup.nodes) +
                             ": start the nodes with `procactor launch`, which gives mpirun one app context "
                             "per node in [cluster] order");
  }
  // A node that loses another waits past Open MPI's own detection
  // (node_peer_timeout says why).
  link_options options;
  options.peer_timeout = node_peer_timeout;
  mpi_link link(mpi, options);
  gateway_hooks hooks;
  hooks.remote_finished = std::move(setup.remote_finished);
  hooks.control = std::move(setup.control);
  idle_policy idle;
  if (setup.spin) idle.spin = std::chrono::microseconds::max();
  gateway g(link, std::move(setup.node_of_slot), setup.names, std::move(hooks), idle);
  g.balance(std::move(setup.balanced));
  g.name_nodes(std::move(setup.node_names));
  running_gateway handle(g);
  setup.running(&handle);
  try {
    g.run();
  } catch (...) {
    setup.running(nullptr);
    throw;
  }
  setup.running(nullptr);
}

}  // namespace

}  // namespace procactor::cluster

// The one symbol the module exports (its build hides every other).
extern "C" __attribute__((visibility("default"))) void procactor_run_node_gateway(
    procactor::cluster::node_gateway_setup& setup) {
  procactor::cluster::run_node_gateway(setup);
}
