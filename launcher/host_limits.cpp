#include "host_limits.hpp"

#include <sys/resource.h>

#include <iostream>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>

#include "runtime_options.hpp"
#include "units.hpp"

namespace procactor::launcher {

namespace {

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::uint64_t>::max() : sum;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<std::uint64_t>::max() : product;
}

}  // namespace

std::size_t instance_count(const Graph& graph) {
  std::size_t count = 0;
  for (const auto& actor : graph.actors) count += actor.replicas;
  return count;
}

// The slot table; per instance its mailbox and reply inbox, its parameters
// and routes, and a lane into the supervisor's inbox (dead letters); per
// route a lane from every sending instance to every receiving one, plus one
// from the supervisor to each instance, each up to the receiver's mailbox
// capacity. The runtime takes from /dev/shm only what lanes use (they start
// small and grow with traffic), so this bounds the arena; it does not
// reserve it. An absurd graph gets an absurd number, which parse_graph()
// refuses.
std::uint64_t mailbox_bytes_of(const Graph& graph, const ActorSpec& actor) {
  constexpr std::uint64_t lane_overhead = 4096;
  constexpr std::uint64_t per_instance = (32U << 10U) + (64U << 10U) + lane_overhead;
  constexpr std::uint64_t per_route_target = 8 + 64 + 8;  // a cereal'ed target name, at most 63 bytes
  std::uint64_t senders = 1;
  std::uint64_t route_bytes = 4096;
  for (const auto& route : graph.routes) {
    if (route.to == actor.name) {
      if (const ActorSpec* from = graph.find_actor(route.from)) senders += from->replicas;
    }
    if (route.from == actor.name) {
      if (const ActorSpec* to = graph.find_actor(route.to)) {
        route_bytes = saturating_add(route_bytes, saturating_mul(to->replicas, per_route_target));
      }
    }
  }
  std::uint64_t param_bytes = 4096;
  for (const auto& param : actor.params) {
    param_bytes += 64 + param.name.size();
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string>) {
            param_bytes += value.size();
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            for (const auto& s : value) param_bytes += 16 + s.size();
          } else if constexpr (requires { value.size(); }) {
            param_bytes += 8 * value.size();
          }
        },
        param.value);
  }
  const std::uint64_t capacity = mailbox_capacity_of(graph, actor);
  const std::uint64_t lanes = saturating_mul(senders, saturating_add(capacity, lane_overhead));
  const std::uint64_t each = saturating_add(saturating_add(per_instance, lanes), route_bytes + param_bytes);
  return saturating_mul(actor.replicas, each);
}

std::uint64_t arena_size_for(const Graph& graph) {
  std::uint64_t bytes = std::uint64_t{16} << 20U;
  for (const auto& actor : graph.actors) bytes = saturating_add(bytes, mailbox_bytes_of(graph, actor));
  return bytes;
}

std::uint64_t open_files_needed(std::size_t instances) { return std::uint64_t{instances} * 4 + 256; }

bool host_allows(const Graph& graph, std::size_t instances) {
  // The runtime raises its soft limit to the hard one; a pidfd and two
  // output pipes per actor, and the log files of the chatty ones, must fit.
  const std::uint64_t fds_needed = open_files_needed(instances);
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_max != RLIM_INFINITY &&
                      files.rlim_max < fds_needed) {
    std::cerr << "procactor: error: graph " << graph.name << " has " << instances
              << (instances == 1 ? " actor instance, which needs " : " actor instances, which need ")
              << fds_needed << " open files in the supervisor; the hard limit is " << files.rlim_max
              << " (raise it with `ulimit -Hn` as root, or in /etc/security/limits.conf)\n";
    return false;
  }
  return true;
}

}  // namespace procactor::launcher
