// What a node supervisor (`procactor node`) runs its gateway through: the
// entry point of the module libprocactor_mpi.so, the one part of procactor
// that links MPI. The launcher loads it with dlopen once its Runtime has
// made the fork server, so the node's actors are forks of a process that
// never mapped MPI's libraries, let alone initialised it. This header names
// no MPI type: the launcher includes it without MPI's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace procactor::cluster {

// The running gateway, as the node's other threads see it (gateway.hpp
// says what each does). Every call is safe from any thread while it runs.
class node_gateway {
 public:
  virtual ~node_gateway() = default;
  virtual void local_finished(std::uint32_t slot) = 0;
  virtual void broadcast(const std::string& text) = 0;
  virtual void tell(int node, const std::string& text) = 0;
  virtual void finish() = 0;
  virtual void abandon() = 0;
};

struct node_gateway_setup {
  std::size_t node = 0;   // this node's number in [cluster]: its MPI rank
  std::size_t nodes = 0;  // how many the graph places on: the job's size
  std::string node_name;
  std::vector<std::string> node_names;  // every node's, by number
  // The slot table (gateway.hpp): the node of each slot, its name, and
  // whether it is the target of a least_loaded route.
  std::vector<int> node_of_slot;
  std::vector<std::string> names;
  std::vector<bool> balanced;
  bool spin = false;  // [cluster] gateway_spin: never sleep between polls
  // On the gateway's thread (gateway_hooks).
  std::function<void(std::uint32_t slot)> remote_finished;
  std::function<void(int node, const std::string& text)> control;
  // Called with the gateway once the link to every node is up, and with
  // nullptr before it goes.
  std::function<void(node_gateway*)> running;
};

// Joins the other nodes over MPI on the calling thread, then carries
// messages until finish() or abandon(). Throws std::exception when the
// node cannot join (its rank or the job's size is not what the graph says,
// MPI fails) or when the link fails later.
using run_node_gateway_fn = void(node_gateway_setup& setup);
inline constexpr const char* node_gateway_module = "libprocactor_mpi.so";
inline constexpr const char* run_node_gateway_symbol = "procactor_run_node_gateway";

}  // namespace procactor::cluster
