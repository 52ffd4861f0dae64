#include "plan.hpp"

#include <algorithm>

namespace procactor::launcher {

namespace {

std::string describe(const Graph& graph, const std::string& name) {
  const ActorSpec* actor = graph.find_actor(name);
  // parse_graph() only hands out graphs whose routes name real actors.
  return name + " (" + actor->type + ") x" + std::to_string(actor->replicas);
}

}  // namespace

std::string plan_text(const Graph& graph) {
  std::string out;
  for (const RouteSpec& route : graph.routes) {
    std::string policy(to_string(route.policy));
    if (route.key) {
      policy += "(" + *route.key + ")";
    }
    out += describe(graph, route.from) + " --" + policy + "--> " + describe(graph, route.to) + "\n";
  }
  for (const ActorSpec& actor : graph.actors) {
    const bool routed = std::any_of(graph.routes.begin(), graph.routes.end(), [&](const RouteSpec& route) {
      return route.from == actor.name || route.to == actor.name;
    });
    if (!routed) {
      out += describe(graph, actor.name) + "\n";
    }
  }
  return out;
}

}  // namespace procactor::launcher
