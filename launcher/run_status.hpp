// The reply to `status`: one row per instance, with what the runtime knows
// (state, restarts, messages, mailbox) and what /proc says (CPU, memory).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>

#include "graph.hpp"

namespace procactor::launcher {

// An instance of the run as the control thread sees it.
struct instance_ref {
  std::string name;       // "worker.1"
  std::size_t actor = 0;  // index into graph.actors
  std::uint32_t replica = 0;
  ActorRef ref;           // invalid while not spawned yet
  bool remote = false;    // on another node of a multi-node run: a mailbox here
};

// Samples the run for `status`; keeps each instance's message count of the
// previous sample, so that msgs_per_s is the rate since then.
class status_sampler {
 public:
  // {"run", "graph", "actors": [...], "shared_memory_bytes", "corruptions"}
  [[nodiscard]] nlohmann::json sample(Runtime& rt, const Graph& graph, const std::string& run_name,
                                      const std::vector<instance_ref>& instances);

 private:
  std::map<std::size_t, std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> last_sample_;
};

}  // namespace procactor::launcher
