#include "run_status.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime_options.hpp"

namespace procactor::launcher {

namespace {

struct process_sample {
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
};

// CPU time over the incarnation's uptime, and resident memory, from /proc.
process_sample sample_process(int pid, double uptime) {
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  process_sample sample;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
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
  if (uptime > 0) sample.cpu_percent = 100.0 * (utime + stime) / static_cast<double>(ticks) / uptime;
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  sample.rss_bytes = resident * static_cast<std::uint64_t>(page);
  return sample;
}

}  // namespace

nlohmann::json status_sampler::sample(Runtime& rt, const Graph& graph, const std::string& run_name,
                                      const std::vector<instance_ref>& instances) {
  using steady = std::chrono::steady_clock;
  nlohmann::json rows = nlohmann::json::array();
  const auto now = steady::now();
  for (std::size_t index = 0; index < instances.size(); ++index) {
    const instance_ref& inst = instances[index];
    // An instance not spawned yet reads as starting, with no pid.
    const ActorInfo info = inst.ref.valid() ? rt.info(inst.ref) : ActorInfo{};
    const ActorSpec& actor = graph.actors[inst.actor];
    const double uptime = info.pid > 0 ? std::chrono::duration<double>(now - info.started).count() : 0.0;
    const process_sample process = info.pid > 0 ? sample_process(info.pid, uptime) : process_sample{};
    double rate = 0;
    if (auto it = last_sample_.find(index); it != last_sample_.end()) {
      const double dt = std::chrono::duration<double>(now - it->second.second).count();
      if (dt > 0 && info.processed >= it->second.first) {
        rate = static_cast<double>(info.processed - it->second.first) / dt;
      }
    } else if (uptime > 0) {
      rate = static_cast<double>(info.processed) / uptime;
    }
    last_sample_[index] = {info.processed, now};
    // On a node of a multi-node run, an instance of another node is its
    // mailbox here: what waits in it is still to be carried there.
    rows.push_back({{"name", inst.name},
                    {"type", actor.type},
                    {"group", info.group.empty() ? actor.group : info.group},
                    {"pid", info.pid},
                    {"state", inst.remote ? std::string("remote") : std::string(to_string(info.state))},
                    {"uptime_s", uptime},
                    {"restarts", info.restarts},
                    {"cpu_percent", process.cpu_percent},
                    {"rss_bytes", process.rss_bytes},
                    {"queued_bytes", info.queued_bytes},
                    {"mailbox_capacity", mailbox_capacity_of(graph, actor)},
                    {"processed", info.processed},
                    {"msgs_per_s", rate},
                    {"dead_letters", info.dead_letters},
                    {"last_exit", info.last_exit},
                    {"last_exit_ago_s", info.last_exit.empty()
                                            ? 0.0
                                            : std::chrono::duration<double>(now - info.last_exit_at).count()}});
    if (graph.cluster) rows.back()["node"] = graph.cluster->nodes[node_for_replica(graph, actor, inst.replica)].name;
  }
  return {{"run", run_name},
          {"graph", graph.name},
          {"actors", rows},
          {"shared_memory_bytes", rt.shared_memory_used()},
          {"corruptions", rt.corruptions()}};
}

}  // namespace procactor::launcher
