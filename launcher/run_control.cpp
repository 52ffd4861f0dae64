// The control socket's requests, answered by the run: status, stop,
// restart, kill and inspect (control_protocol.hpp). On the control server's
// thread.
#include <algorithm>
#include <cstring>

#include "graph_run.hpp"
#include "json_text.hpp"
#include "run_inspect.hpp"

namespace procactor::launcher {
namespace {

// SIGKILL, SIGTERM, ...; "signal 40" for one with no name.
std::string signal_text(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation != nullptr ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

}  // namespace

std::vector<instance_ref> graph_run::instance_refs(bool with_gone) {
  std::lock_guard guard(refs_mutex_);
  std::vector<instance_ref> refs;
  refs.reserve(instances_.size());
  for (const auto& inst : instances_) {
    const bool gone = inst.retired && inst.finished;  // scaled away, and ended
    if (gone && !with_gone) continue;
    refs.push_back(
        {inst.name, inst.actor, static_cast<std::uint32_t>(inst.replica), inst.ref, inst.remote, inst.spawned, gone});
  }
  return refs;
}

std::string graph_run::control(Runtime& rt, const ControlRequest& request) {
  using Verb = ControlRequest::Verb;
  // Not under control_mutex_: a status asked meanwhile is answered while
  // the run loop starts the new replicas.
  if (request.verb == Verb::scale) return ask_scale(request);
  const std::lock_guard serial(control_mutex_);
  switch (request.verb) {
    case Verb::ping: return "pong";
    case Verb::status:
      return json_text(sampler_.sample(rt, graph_, run_.name, instance_refs(true), request.client));
    case Verb::stop: {
      {
        std::lock_guard guard(events_mutex_);
        stop_requests_.push_back(request.stop_timeout.value_or(graph_.shutdown_timeout));
      }
      wake();
      return "ok";
    }
    case Verb::scale:  // above
    case Verb::restart:
    case Verb::kill:
    case Verb::inspect: break;
  }
  std::vector<instance_ref> chosen;
  for (instance_ref& inst : instance_refs()) {
    const bool named = graph_.actors[inst.actor].name == request.target.name &&
                       (!request.target.replica || *request.target.replica == inst.replica);
    if (named) chosen.push_back(std::move(inst));
  }
  const std::string target = to_string(request.target);
  if (chosen.empty()) return "error: no actor '" + target + "' in run " + run_.name;
  if (request.verb == Verb::inspect) return json_text(inspect_json(rt, graph_, run_.name, chosen));
  // A restart now would start again what the stop is ending.
  if (request.verb == Verb::restart && (stopping_ || stop_pending())) {
    return "error: run " + run_.name + " is stopping: it restarts nothing now";
  }
  std::size_t acted = 0;
  std::string done;  // what was acted on, told to the user: "worker.1 (pid 4242), ..."
  std::string cut;   // restarted while waiting out a backoff: "worker.2, ..."
  for (const instance_ref& inst : chosen) {
    // Only a live process can be restarted or signalled; one that has not
    // started yet, or has finished, is left alone.
    const ActorInfo info = inst.ref.valid() ? rt.info(inst.ref) : ActorInfo{};
    const int pid = info.pid;
    if (pid <= 0) {
      // Down, waiting out its restart backoff: a restart cuts the wait short.
      if (request.verb == Verb::restart && inst.ref.valid() && info.state == ActorState::restarting && !inst.remote &&
          rt.restart(inst.ref, {})) {
        cut += (cut.empty() ? "" : ", ") + inst.name;
      }
      continue;
    }
    if (request.verb == Verb::restart) {
      procactor::RestartOptions how;
      how.force = request.force;
      how.drain = request.drain;
      rt.restart(inst.ref, how);
    } else {
      rt.signal(inst.ref, request.signal);
    }
    done += (acted++ == 0 ? "" : ", ") + inst.name + " (pid " + std::to_string(pid) +
            (node_ ? " on node " + graph_.cluster->nodes[node_->index].name : "") + ")";
  }
  const std::string now = cut.empty() ? "" : "restarting " + cut + " now, cutting its restart backoff short";
  if (acted == 0 && !cut.empty()) return "ok: " + now;
  if (acted == 0 && std::all_of(chosen.begin(), chosen.end(), [](const instance_ref& i) { return i.remote; })) {
    const ActorSpec& actor = graph_.actors[chosen.front().actor];
    const std::string& node = graph_.cluster->nodes[node_for_replica(graph_, actor, chosen.front().replica)].name;
    // This node's run is WHOLE-NODE (launch.cpp), and so is the other's.
    const std::string own = "-" + node_->name;
    const std::string whole =
        run_.name.ends_with(own) ? run_.name.substr(0, run_.name.size() - own.size()) : graph_.name;
    return "error: '" + target + "' runs on node " + node + " of this multi-node run: act on it through run " + whole +
           " on the host that launched it, or run " + whole + "-" + node + " on node " + node + "'s host";
  }
  if (acted == 0) return "error: '" + target + "' has no running process in run " + run_.name;
  if (request.verb == Verb::kill) return "ok: sent " + signal_text(request.signal) + " to " + done;
  return "ok: restarting " + done +
         (request.force   ? ": killed at once"
          : request.drain ? " once it has handled what is queued for it"
                          : " after the message in hand") +
         (now.empty() ? "" : "; " + now);
}

}  // namespace procactor::launcher
