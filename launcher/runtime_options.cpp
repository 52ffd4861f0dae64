#include "runtime_options.hpp"

namespace procactor::launcher {

procactor::Options run_options(const Graph& graph) {
  procactor::Options options;
  options.shutdown_timeout = graph.shutdown_timeout;
  options.supervision = graph.root().options;
  return options;
}

procactor::SpawnOptions spawn_options(const Graph& graph, const ActorSpec& actor, const route_targets& targets) {
  procactor::SpawnOptions options;
  for (const Param& param : actor.params) {
    options.params.set(param.name, param.value);
  }
  // In a graph a normal exit is the actor's end of stream (a source that
  // has handed out everything returns from run()), so a permanent actor is
  // restarted after an abnormal exit only: transient, to the runtime.
  options.restart = actor.restart == procactor::Restart::permanent ? procactor::Restart::transient : actor.restart;
  options.backoff = graph.backoff;
  options.stall_timeout = graph.stall_timeout;
  if (const auto capacity = actor.mailbox_capacity ? actor.mailbox_capacity : graph.mailbox_capacity) {
    options.mailbox_capacity = static_cast<std::size_t>(*capacity);
  }
  if (actor.nice) {
    options.nice = *actor.nice;
  }
  if (actor.memory_limit) {
    options.memory_limit = static_cast<std::size_t>(*actor.memory_limit);
  }
  for (const RouteSpec& route : graph.routes) {
    if (route.from != actor.name) {
      continue;
    }
    procactor::Route out;
    out.policy = route.policy;
    if (const ActorSpec* target = graph.find_actor(route.to)) {
      if (targets) {
        out.targets = targets(*target);
      } else {
        for (std::uint32_t replica = 0; replica < target->replicas; ++replica) {
          out.targets.push_back(instance_name(*target, replica));
        }
      }
    }
    options.routes.push_back(std::move(out));
  }
  return options;
}

std::uint64_t mailbox_capacity_of(const Graph& graph, const ActorSpec& actor) {
  if (actor.mailbox_capacity) {
    return *actor.mailbox_capacity;
  }
  if (graph.mailbox_capacity) {
    return *graph.mailbox_capacity;
  }
  return procactor::Options{}.lane_capacity;
}

std::string instance_name(const ActorSpec& actor, std::uint32_t replica) {
  return actor.name + "." + std::to_string(replica);
}

}  // namespace procactor::launcher
