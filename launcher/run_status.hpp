// The reply to `status`: one row per instance, with what the runtime knows
// (state, restarts, messages, mailbox) and what /proc says (CPU, memory).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>

#include "graph.hpp"
#include "run_dir.hpp"  // status_schema

namespace procactor::launcher {

// An instance of the run as the control thread sees it.
struct instance_ref {
  std::string name;       // "worker.1"
  std::size_t actor = 0;  // index into graph.actors
  std::uint32_t replica = 0;
  ActorRef ref;           // invalid while not spawned yet
  bool remote = false;    // on another node of a multi-node run: a mailbox here
  // When it was first spawned: what it handled over every incarnation is
  // averaged over the time since.
  std::chrono::steady_clock::time_point spawned{};
  // Scaled away and ended: not a row of the status, but what it handled and
  // sent stays in its edges' counts, which are counters.
  bool gone = false;
};

// Samples the run for `status`; keeps each instance's message count of the
// previous sample, so that msgs_per_s is the rate since then.
class status_sampler {
 public:
  // {"run", "graph", "actors": [...], "edges": [...], "shared_memory_bytes",
  // "corruptions"}: each actor row with its "inbound" lanes (from, messages,
  // msgs_per_s, queued_bytes); each edge a route of the graph with the
  // messages and rate summed over the instances at both ends.
  //
  // Rates (msgs_per_s, cpu_percent, an inbound lane's msgs_per_s) are
  // since `client`'s previous sample, so that two watchers do not disturb
  // each other; without a client, or at its first sample, they are
  // averages over each incarnation's uptime.
  [[nodiscard]] nlohmann::json sample(Runtime& rt, const Graph& graph, const std::string& run_name,
                                      const std::vector<instance_ref>& instances, const std::string& client = {});

 private:
  static constexpr std::size_t max_clients = 64;
  static constexpr std::chrono::minutes forget_client_after{5};

  // What one client saw at its last sample: each instance's message count,
  // each incarnation's CPU seconds (by instance and pid), each inbound
  // lane's message count (by instance and sending slot).
  struct client_state {
    std::chrono::steady_clock::time_point at;
    std::map<std::size_t, double> processed;
    std::map<std::pair<std::size_t, int>, double> cpu_seconds;
    std::map<std::pair<std::size_t, std::uint32_t>, double> inbound;
  };
  std::map<std::string, client_state> clients_;
};

}  // namespace procactor::launcher
