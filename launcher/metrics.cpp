#include "metrics.hpp"

#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

namespace procactor::launcher {
namespace {

using nlohmann::json;

// The states an instance can be in (ActorState; `stopped`, a running one
// stopped by a signal; `remote` on a node of a multi-node run), for the
// state set.
constexpr std::string_view states[] = {"starting", "running",  "restarting", "exited",
                                       "failed",   "killed",   "stopped",    "remote"};

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double (0.03, not
  // 0.029999999999999999).
  char text[64];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return {text, end};
}

// One metric family: its HELP and TYPE lines, then its samples.
class family {
 public:
  family(std::string name, std::string type, std::string help)
      : name_(std::move(name)), type_(std::move(type)), help_(std::move(help)) {}

  void add(const std::string& labels, double value) { samples_.push_back(name_ + "{" + labels + "} " + number(value)); }

  void write(std::string& out) const {
    if (samples_.empty()) return;
    out += "# HELP " + name_ + " " + help_ + "\n";
    out += "# TYPE " + name_ + " " + type_ + "\n";
    for (const auto& sample : samples_) out += sample + "\n";
  }

 private:
  std::string name_;
  std::string type_;
  std::string help_;
  std::vector<std::string> samples_;
};

std::string label(const std::string& name, const std::string& value) {
  return name + "=\"" + prometheus_label_value(value) + "\"";
}

double field(const json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : std::nan("");
}

bool has_number(const json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_number();
}

// "worker.3" -> actor "worker", replica "3"; a name without a replica is
// replica 0.
std::pair<std::string, std::string> actor_and_replica(const std::string& instance) {
  const auto dot = instance.rfind('.');
  if (dot == std::string::npos || dot + 1 == instance.size() ||
      instance.find_first_not_of("0123456789", dot + 1) != std::string::npos) {
    return {instance, "0"};
  }
  return {instance.substr(0, dot), instance.substr(dot + 1)};
}

}  // namespace

std::string prometheus_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_text(const json& status) {
  const std::string run = status.value("run", std::string());
  const std::string run_label = label("run", run);

  family up("procactor_up", "gauge", "1 while the run answers its control socket.");
  family processed("procactor_messages_processed_total", "counter",
                   "Messages the instance has handled, over all its incarnations.");
  family rate("procactor_messages_per_second", "gauge", "Messages handled per second since the previous sample.");
  family queued("procactor_mailbox_queued_bytes", "gauge", "Bytes waiting in the instance's mailbox.");
  family fullest("procactor_mailbox_fullest_lane_bytes", "gauge",
                 "Bytes waiting in the fullest sender's newest lane: at the capacity, that sender is held back.");
  family capacity("procactor_mailbox_capacity_bytes", "gauge", "Bytes one sender's lane into the mailbox can hold.");
  family restarts("procactor_restarts_total", "counter", "Restarts of the instance.");
  family dead("procactor_dead_letters_total", "counter", "Messages of the instance that went to dead letters.");
  family state("procactor_actor_state", "gauge", "The instance's state: 1 for the state it is in, 0 for the others.");
  family cpu("procactor_cpu_seconds_total", "counter", "CPU time of the instance's current process (user + system).");
  family rss("procactor_resident_memory_bytes", "gauge", "Resident memory of the instance's current process.");
  family edge_messages("procactor_edge_messages_total", "counter",
                       "Messages handled by the receiving actor's instances from the sending actor's, per route.");
  family edge_rate("procactor_edge_messages_per_second", "gauge",
                   "Messages per second along a route since the previous sample.");
  family shm("procactor_shared_memory_bytes", "gauge", "Shared memory the run's arena uses.");
  family corruptions("procactor_shared_memory_corruptions_total", "counter",
                     "Corrupt records and overwritten slot fields the run has found and repaired or skipped.");

  up.add(run_label, 1);
  for (const json& row : status.value("actors", json::array())) {
    const std::string name = row.value("name", std::string());
    const auto [actor, replica] = actor_and_replica(name);
    std::string labels = run_label + "," + label("actor", actor) + "," + label("replica", replica);
    // A run on several nodes: the node that runs the instance.
    if (const auto node = row.find("node"); node != row.end() && node->is_string()) {
      labels += "," + label("node", node->get<std::string>());
    }
    if (has_number(row, "processed")) processed.add(labels, field(row, "processed"));
    if (has_number(row, "msgs_per_s")) rate.add(labels, field(row, "msgs_per_s"));
    if (has_number(row, "queued_bytes")) queued.add(labels, field(row, "queued_bytes"));
    if (has_number(row, "fullest_lane_bytes")) fullest.add(labels, field(row, "fullest_lane_bytes"));
    if (has_number(row, "mailbox_capacity")) capacity.add(labels, field(row, "mailbox_capacity"));
    if (has_number(row, "restarts")) restarts.add(labels, field(row, "restarts"));
    if (has_number(row, "dead_letters")) dead.add(labels, field(row, "dead_letters"));
    if (has_number(row, "cpu_seconds")) cpu.add(labels, field(row, "cpu_seconds"));
    if (has_number(row, "rss_bytes")) rss.add(labels, field(row, "rss_bytes"));
    if (const auto it = row.find("state"); it != row.end() && it->is_string()) {
      for (const std::string_view s : states) {
        state.add(labels + "," + label("state", std::string(s)), *it == s ? 1 : 0);
      }
    }
  }
  for (const json& edge : status.value("edges", json::array())) {
    const std::string labels = run_label + "," + label("from", edge.value("from", std::string())) + "," +
                               label("to", edge.value("to", std::string()));
    if (has_number(edge, "messages")) edge_messages.add(labels, field(edge, "messages"));
    if (has_number(edge, "msgs_per_s")) edge_rate.add(labels, field(edge, "msgs_per_s"));
  }
  if (has_number(status, "shared_memory_bytes")) shm.add(run_label, field(status, "shared_memory_bytes"));
  if (has_number(status, "corruptions")) corruptions.add(run_label, field(status, "corruptions"));

  std::string out;
  for (const family* f : {&up, &processed, &rate, &queued, &fullest, &capacity, &restarts, &dead, &state, &cpu, &rss,
                          &edge_messages, &edge_rate, &shm, &corruptions}) {
    f->write(out);
  }
  return out;
}

}  // namespace procactor::launcher
