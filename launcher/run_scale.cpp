// `procactor scale RUN ACTOR N`: replicas added to or taken from a running
// graph, with the routes into the actor following.
//
// Up: the new replicas start (named on from the highest N the actor has
// had: worker.4, worker.5), then every running sender's routes take them in
// (Runtime::set_routes; a sender switches at its next emit).
// Down: the highest replicas leave their senders' routes first, then are
// closed: each handles what is queued and exits. A send already waiting on
// one of them when it closes goes to the route's new targets (the runtime
// does that), so nothing queued or in flight is lost. A key_hash route maps
// keys anew: a key's next messages may go to another replica.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "graph_run.hpp"
#include "host_limits.hpp"
#include "names.hpp"
#include "runtime_options.hpp"

namespace procactor::launcher {

namespace {

std::string names_of(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string replicas_text(std::size_t n) { return std::to_string(n) + (n == 1 ? " replica" : " replicas"); }

}  // namespace

std::vector<std::string> graph_run::live_targets(const ActorSpec& target) const {
  std::vector<std::string> names;
  for (const auto& inst : instances_) {
    if (&graph_.actors[inst.actor] == &target && !inst.retired) names.push_back(inst.name);
  }
  return names;
}

// Every instance upstream of `actor` has finished: the end of stream has
// reached it, and its replicas are closing.
bool graph_run::input_ended(std::size_t actor) const {
  const auto upstream = upstream_of(actor);
  if (upstream.empty()) return false;
  return std::all_of(instances_.begin(), instances_.end(), [&](const instance& inst) {
    return std::find(upstream.begin(), upstream.end(), inst.actor) == upstream.end() || inst.finished;
  });
}

// On the control thread: hands the request to the run loop and waits.
std::string graph_run::ask_scale(const ControlRequest& request) {
  const ActorSpec* actor = graph_.find_actor(request.target.name);
  if (actor == nullptr) return "error: no actor '" + request.target.name + "' in run " + run_.name;
  std::future<std::string> answer;
  {
    std::lock_guard guard(events_mutex_);
    if (loop_ended_) return "error: run " + run_.name + " has ended";
    scale_requests_.push_back({static_cast<std::size_t>(actor - graph_.actors.data()), request.replicas, {}});
    answer = scale_requests_.back().answer.get_future();
  }
  wake();
  // The run loop answers every request it takes, and those left when it
  // ends; starting replicas takes milliseconds each. Within the minute a
  // client waits for its answer.
  if (answer.wait_for(std::chrono::seconds(50)) != std::future_status::ready) {
    return "error: run " + run_.name + " did not scale " + request.target.name + " within 50 s";
  }
  return answer.get();
}

// On the run loop.
std::string graph_run::scale(Runtime& rt, std::size_t a, std::uint32_t replicas) {
  const ActorSpec& actor = graph_.actors[a];
  if (node_) return "error: cannot scale '" + actor.name + "': this node is part of a multi-node run";
  if (stopping_) return "error: run " + run_.name + " is stopping";
  std::vector<std::size_t> live;  // indices into instances_, running or starting, not scaled away
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    const instance& inst = instances_[i];
    if (inst.actor == a && !inst.retired && !inst.finished && inst.ref.valid()) live.push_back(i);
  }
  if (live.empty()) return "error: " + actor.name + " has finished in run " + run_.name;
  if (input_ended(a)) return "error: the input of " + actor.name + " has ended: its replicas are finishing";
  const std::size_t before = live.size();
  if (replicas == before) return "ok: " + actor.name + " has " + replicas_text(before) + " already";

  const route_targets targets = [this](const ActorSpec& target) { return live_targets(target); };
  std::vector<std::string> changed;
  std::string problem;  // a replica that could not start, after others did
  if (replicas > before) {
    // Refused whole rather than started in part: names that would not fit,
    // or more actors than the run has room for. A run holds at most
    // max_actors over its life: a replica scaled away keeps its place.
    const std::size_t adding = replicas - before;
    const std::string last = instance_name(actor, static_cast<std::uint32_t>(next_replica_[a] + adding - 1));
    if (last.size() > max_name_length) {
      return "error: cannot scale " + actor.name + " to " + replicas_text(replicas) + ": the instance name '" + last +
             "' would have " + std::to_string(last.size()) + " bytes, more than the " +
             std::to_string(max_name_length) + " one may have";
    }
    const std::size_t used = rt.actors().size();
    const std::size_t room = rt.options().max_actors > used ? rt.options().max_actors - used : 0;
    if (adding > room) {
      return "error: cannot scale " + actor.name + " to " + replicas_text(replicas) + ": that adds " +
             std::to_string(adding) + " actors, and run " + run_.name + " has room for " + std::to_string(room) +
             " more (a run holds at most " + std::to_string(rt.options().max_actors) +
             " actors over its life; a replica scaled away keeps its place)";
    }
    // The open files the run would need, checked as launch checks them:
    // refused before any replica starts rather than part-way with EMFILE.
    // The supervisor runs at its hard limit (the runtime raised the soft one).
    const std::size_t alive = static_cast<std::size_t>(std::count_if(
        instances_.begin(), instances_.end(), [](const instance& inst) { return !inst.finished && !inst.remote; }));
    const std::uint64_t files_needed = open_files_needed(alive + adding);
    if (rlimit files{};
        ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur < files_needed) {
      return "error: cannot scale " + actor.name + " to " + replicas_text(replicas) + ": run " + run_.name +
             " would have " + std::to_string(alive + adding) + " actor instances, which need " +
             std::to_string(files_needed) + " open files in the supervisor; its limit is " +
             std::to_string(files.rlim_cur) +
             " (raise the hard limit with `ulimit -Hn` as root, or in /etc/security/limits.conf, before the launch)";
    }
    const auto cores = std::max(1U, std::thread::hardware_concurrency());
    SpawnOptions base = spawn_options(graph_, actor, targets);
    base.group = group_handle(rt, group_index(actor.group));
    for (std::size_t n = before; n < replicas; ++n) {
      const std::uint32_t replica = next_replica_[a]++;
      const std::string name = instance_name(actor, replica);
      {
        std::lock_guard guard(refs_mutex_);
        by_name_[name] = instances_.size();
        instances_.push_back({a, static_cast<int>(replica), name, {}, false, false});
        logs_.emplace_back();
      }
      create_log_file(log_path(instances_.size() - 1));
      SpawnOptions options = base;
      options.replica = static_cast<int>(replica);
      options.cpu = cpu_for_replica(actor.cpu, replica, cores).value_or(options.cpu);
      try {
        const ActorRef ref = rt.spawn(actor.type, name, options);
        std::lock_guard guard(refs_mutex_);
        instances_.back().ref = ref;
        instances_.back().spawned = std::chrono::steady_clock::now();
      } catch (const std::exception& e) {
        mark_finished(instances_.back());
        {
          std::lock_guard guard(refs_mutex_);
          instances_.back().retired = true;
        }
        // Those started so far join the routes below all the same.
        problem = "cannot start " + name + ": " + e.what();
        if (changed.empty()) return "error: " + problem;
        replicas = static_cast<std::uint32_t>(before + changed.size());
        print(a, "procactor", problem, true);
        break;
      }
      changed.push_back(name);
    }
  } else {
    // The highest replicas go: the graph file's own ones stay longest.
    std::sort(live.begin(), live.end(),
              [this](std::size_t x, std::size_t y) { return instances_[x].replica > instances_[y].replica; });
    std::lock_guard guard(refs_mutex_);
    for (std::size_t k = 0; k < before - replicas; ++k) {
      instances_[live[k]].retired = true;
      changed.push_back(instances_[live[k]].name);
    }
  }

  // Every sender into the actor, running or waiting for a restart, routes
  // to the replicas there are now.
  for (const RouteSpec& route : graph_.routes) {
    if (route.to != actor.name) continue;
    for (const auto& sender : instances_) {
      if (graph_.actors[sender.actor].name != route.from || sender.finished || sender.remote || !sender.ref.valid()) {
        continue;
      }
      try {
        rt.set_routes(sender.ref, spawn_options(graph_, graph_.actors[sender.actor], targets).routes);
      } catch (const std::exception& e) {
        print(sender.actor, "procactor", "cannot change the routes of " + sender.name + ": " + e.what(), true);
      }
    }
  }
  std::string change;  // "from 2 to 4 replicas: started worker.2, worker.3"
  if (replicas > before) {
    change = "from " + std::to_string(before) + " to " + replicas_text(replicas) + ": started " + names_of(changed);
  } else {
    for (const auto& inst : instances_) {
      if (inst.retired && !inst.finished && std::find(changed.begin(), changed.end(), inst.name) != changed.end()) {
        inst.ref.close();
      }
    }
    change = "from " + std::to_string(before) + " to " + replicas_text(replicas) + ": closing " + names_of(changed) +
             (changed.size() == 1 ? ", which handles" : ", which handle") + " what is queued first";
  }
  const std::string text = actor.name + " scaled " + change;
  print(a, "procactor", text, true);
  // The event's kind and actor say the rest.
  record_event("scaled", actor.name, 0, change);
  return problem.empty() ? "ok: " + text : "error: " + text + "; " + problem;
}

}  // namespace procactor::launcher
