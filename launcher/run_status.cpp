#include "run_status.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cluster_control.hpp"
#include "runtime_options.hpp"

namespace procactor::launcher {

namespace {

struct process_sample {
  double cpu_seconds = 0;
  std::uint64_t rss_bytes = 0;
  bool stopped = false;  // by a signal (SIGSTOP, SIGTSTP) or a tracer: state T or t
};

// CPU time of the incarnation so far, and resident memory, from /proc.
process_sample sample_process(int pid) {
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  process_sample sample;
  if (const auto stat = read_proc_stat(pid)) {
    sample.cpu_seconds = (stat->utime_ticks + stat->stime_ticks) / static_cast<double>(ticks);
    sample.stopped = stat->state == 'T' || stat->state == 't';
  }
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  sample.rss_bytes = resident * static_cast<std::uint64_t>(page);
  return sample;
}

}  // namespace

nlohmann::json status_sampler::sample(Runtime& rt, const Graph& graph, const std::string& run_name,
                                      const std::vector<instance_ref>& instances, const std::string& client) {
  using steady = std::chrono::steady_clock;
  nlohmann::json rows = nlohmann::json::array();
  const auto now = steady::now();
  // The client's previous sample, if it made one: rates are since then.
  const client_state* previous = nullptr;
  if (auto it = clients_.find(client); !client.empty() && it != clients_.end()) previous = &it->second;
  const double dt = previous != nullptr ? std::chrono::duration<double>(now - previous->at).count() : 0.0;
  client_state next{now, {}, {}, {}};
  // Since the previous sample when there is one of the same count (the same
  // incarnation, for CPU time); else the average over `span`: the
  // incarnation's uptime for CPU time, which a new process starts again,
  // and the instance's whole life for messages, which count on.
  auto rate_of = [&](double now_value, const auto& before, const auto& key, double span) {
    if (previous != nullptr && dt > 0) {
      if (auto it = before.find(key); it != before.end() && now_value >= it->second) return (now_value - it->second) / dt;
    }
    return span > 0 ? now_value / span : 0.0;
  };
  std::map<detail::slot_id, std::size_t> by_slot;  // instance of each spawned slot
  for (std::size_t index = 0; index < instances.size(); ++index) {
    if (instances[index].ref.valid()) by_slot[instances[index].ref.slot()] = index;
  }
  // Actor-level edges, as the graph's routes draw them: messages and rate
  // summed over the instances at both ends.
  edge_totals edges;
  for (std::size_t index = 0; index < instances.size(); ++index) {
    const instance_ref& inst = instances[index];
    // An instance not spawned yet reads as starting, with no pid.
    const ActorInfo info = inst.ref.valid() ? rt.info(inst.ref) : ActorInfo{};
    if (inst.gone) {
      for (const ActorInfo::Inbound& in : info.inbound) {
        const auto from = in.from.valid() ? by_slot.find(in.from.slot()) : by_slot.end();
        if (from != by_slot.end()) edges[{instances[from->second].actor, inst.actor}].first += in.messages;
      }
      continue;
    }
    const ActorSpec& actor = graph.actors[inst.actor];
    const double uptime = info.pid > 0 ? std::chrono::duration<double>(now - info.started).count() : 0.0;
    // An instance that has exited lived from its spawn to its last exit
    // (an ended run's last table shows each one's average).
    double life = uptime;
    if (inst.spawned != steady::time_point{}) {
      if (info.pid > 0) {
        life = std::max(uptime, std::chrono::duration<double>(now - inst.spawned).count());
      } else if (info.last_exit_at > inst.spawned) {
        life = std::chrono::duration<double>(info.last_exit_at - inst.spawned).count();
      }
    }
    const process_sample process = info.pid > 0 ? sample_process(info.pid) : process_sample{};
    const double rate = rate_of(static_cast<double>(info.processed), previous ? previous->processed : next.processed,
                                index, life);
    next.processed[index] = static_cast<double>(info.processed);
    double cpu_percent = 0;
    if (info.pid > 0) {
      const auto cpu_key = std::make_pair(index, info.pid);
      cpu_percent =
          100.0 * rate_of(process.cpu_seconds, previous ? previous->cpu_seconds : next.cpu_seconds, cpu_key, uptime);
      next.cpu_seconds[cpu_key] = process.cpu_seconds;
    }
    nlohmann::json inbound = nlohmann::json::array();
    for (const ActorInfo::Inbound& in : info.inbound) {
      const auto from = in.from.valid() ? by_slot.find(in.from.slot()) : by_slot.end();
      if (in.from.valid() && from == by_slot.end()) continue;  // not an instance of the graph
      const auto key = std::make_pair(index, in.from.valid() ? in.from.slot() : detail::slot_id{0});
      const double edge_rate =
          rate_of(static_cast<double>(in.messages), previous ? previous->inbound : next.inbound, key, life);
      next.inbound[key] = static_cast<double>(in.messages);
      const std::string from_name = from == by_slot.end() ? std::string("procactor") : instances[from->second].name;
      inbound.push_back({{"from", from_name}, {"messages", in.messages}, {"msgs_per_s", edge_rate},
                         {"queued_bytes", in.queued_bytes}});
      if (from != by_slot.end()) {
        auto& edge = edges[{instances[from->second].actor, inst.actor}];
        edge.first += in.messages;
        edge.second += edge_rate;
      }
    }
    // On a node of a multi-node run, an instance of another node is its
    // mailbox here: what waits in it is still to be carried there.
    rows.push_back({{"name", inst.name},
                    {"type", actor.type},
                    {"group", info.group.empty() ? actor.group : info.group},
                    {"pid", info.pid},
                    {"state", inst.remote                                           ? std::string("remote")
                              : info.state == ActorState::running && process.stopped ? std::string("stopped")
                                                                                      : std::string(to_string(info.state))},
                    {"uptime_s", uptime},
                    {"restarts", info.restarts},
                    {"cpu_percent", cpu_percent},
                    {"cpu_seconds", process.cpu_seconds},
                    {"rss_bytes", process.rss_bytes},
                    {"queued_bytes", info.queued_bytes},
                    {"fullest_lane_bytes", info.fullest_lane_bytes},
                    {"mailbox_capacity", mailbox_capacity_of(graph, actor)},
                    {"processed", info.processed},
                    {"msgs_per_s", rate},
                    {"dead_letters", info.dead_letters},
                    {"inbound", inbound},
                    {"last_exit", info.last_exit},
                    {"last_exit_ago_s", info.last_exit.empty()
                                            ? 0.0
                                            : std::chrono::duration<double>(now - info.last_exit_at).count()}});
    if (graph.cluster) rows.back()["node"] = graph.cluster->nodes[node_for_replica(graph, actor, inst.replica)].name;
  }
  if (!client.empty()) {
    clients_[client] = std::move(next);
    // A client that stopped asking is forgotten after a while; and there
    // are never more than a few dozen.
    std::erase_if(clients_, [&](const auto& entry) { return now - entry.second.at > forget_client_after; });
    while (clients_.size() > max_clients) {
      clients_.erase(std::min_element(clients_.begin(), clients_.end(), [](const auto& a, const auto& b) {
        return a.second.at < b.second.at;
      }));
    }
  }
  // Every route of the graph is an edge, also before its first message.
  const nlohmann::json edge_list = edge_rows(graph, edges);
  return {{"schema", status_schema},
          {"run", run_name},
          {"graph", graph.name},
          {"actors", rows},
          {"edges", edge_list},
          {"shared_memory_bytes", rt.shared_memory_used()},
          {"corruptions", rt.corruptions()}};
}

}  // namespace procactor::launcher
