#include "cluster_control.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "run_status.hpp"
#include "runtime_options.hpp"

namespace procactor::launcher {

nlohmann::json edge_rows(const Graph& graph, const edge_totals& totals) {
  const auto actor_index = [&graph](const std::string& name) {
    const ActorSpec* actor = graph.find_actor(name);
    return actor == nullptr ? graph.actors.size() : static_cast<std::size_t>(actor - graph.actors.data());
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const RouteSpec& route : graph.routes) {
    const auto it = totals.find({actor_index(route.from), actor_index(route.to)});
    rows.push_back({{"from", route.from},
                    {"to", route.to},
                    {"policy", std::string(to_string(route.policy))},
                    {"messages", it == totals.end() ? 0 : it->second.first},
                    {"msgs_per_s", it == totals.end() ? 0.0 : it->second.second}});
  }
  return rows;
}

}  // namespace procactor::launcher

namespace procactor::launcher::relay {

namespace {

using Verb = ControlRequest::Verb;

template <typename T>
std::optional<T> number(std::string_view text) noexcept {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The first word of `rest` (up to a space), and `rest` moves past it and
// the space.
std::string_view next_word(std::string_view& rest) noexcept {
  const std::size_t space = rest.find(' ');
  const std::string_view word = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return word;
}

std::string escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      default: return std::nullopt;
    }
  }
  return out;
}

// Which node runs each instance, by name.
std::map<std::string, std::size_t, std::less<>> owners(const Graph& graph) {
  std::map<std::string, std::size_t, std::less<>> owner;
  for (const ActorSpec& actor : graph.actors) {
    for (std::uint32_t r = 0; r < actor.replicas; ++r) owner[instance_name(actor, r)] = node_for_replica(graph, actor, r);
  }
  return owner;
}

std::string node_name(const Graph& graph, std::size_t node) {
  return graph.cluster && node < graph.cluster->nodes.size() ? graph.cluster->nodes[node].name
                                                              : "#" + std::to_string(node);
}

std::string unanswered(const Graph& graph, const std::vector<node_reply>& replies) {
  std::string names;
  for (const node_reply& reply : replies) {
    if (!reply.text || reply.stale) names += (names.empty() ? "" : ", ") + node_name(graph, reply.node);
  }
  return names;
}

// The JSON replies, by node; each reply that is not JSON (an error) goes
// into `errors`, by node name.
std::map<std::size_t, nlohmann::json> json_replies(const Graph& graph, const std::vector<node_reply>& replies,
                                                   std::map<std::string, std::string>& errors) {
  std::map<std::size_t, nlohmann::json> parsed;
  for (const node_reply& reply : replies) {
    if (!reply.text) continue;
    nlohmann::json value = nlohmann::json::parse(*reply.text, nullptr, false);
    if (value.is_object()) {
      parsed[reply.node] = std::move(value);
    } else {
      errors[node_name(graph, reply.node)] =
          reply.text->starts_with("error: ") ? *reply.text : "error: a node answered '" + *reply.text + "'";
    }
  }
  return parsed;
}

// The rows (status "actors", inspect "instances") of every instance, each
// from the node that runs it, in the order of the first reply; a row whose
// node did not answer comes from its stale reply, or else another node's
// reply, in state "unanswered".
nlohmann::json owned_rows(const Graph& graph, const std::map<std::size_t, nlohmann::json>& parsed, const char* key,
                          const std::vector<node_reply>& replies) {
  const auto owner = owners(graph);
  const auto stale = [&replies](std::size_t node) {
    return std::any_of(replies.begin(), replies.end(),
                       [node](const node_reply& r) { return r.node == node && r.stale; });
  };
  std::vector<std::string> order;
  std::map<std::string, nlohmann::json, std::less<>> chosen;
  for (const auto& [node, reply] : parsed) {
    if (!reply.contains(key) || !reply[key].is_array()) continue;
    for (const nlohmann::json& row : reply[key]) {
      if (!row.is_object() || !row.contains("name") || !row["name"].is_string()) continue;
      const std::string name = row["name"].get<std::string>();
      const auto it = owner.find(name);
      const bool owned = it != owner.end() && it->second == node;
      const auto have = chosen.find(name);
      if (have == chosen.end()) {
        order.push_back(name);
        chosen[name] = row;
        if (!owned) chosen[name]["state"] = "unanswered";
      } else if (owned) {
        have->second = row;
      }
      if (owned && stale(node)) chosen[name]["state"] = "unanswered";
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& name : order) rows.push_back(std::move(chosen[name]));
  return rows;
}

// The edges of a status whose rows are the merged `actors`: each row's
// inbound counts, by the actors of the sender and the receiver.
edge_totals totals_of(const Graph& graph, const nlohmann::json& rows) {
  const auto actor_of = [&graph](const std::string& instance) -> std::optional<std::size_t> {
    const std::size_t dot = instance.rfind('.');
    const ActorSpec* actor = dot == std::string::npos ? nullptr : graph.find_actor(instance.substr(0, dot));
    if (actor == nullptr) return std::nullopt;
    return static_cast<std::size_t>(actor - graph.actors.data());
  };
  edge_totals totals;
  for (const nlohmann::json& row : rows) {
    if (!row.is_object() || !row.contains("name") || !row["name"].is_string() || !row.contains("inbound") ||
        !row["inbound"].is_array()) {
      continue;
    }
    const auto to = actor_of(row["name"].get<std::string>());
    if (!to) continue;
    for (const nlohmann::json& in : row["inbound"]) {
      if (!in.is_object() || !in.contains("from") || !in["from"].is_string()) continue;
      const auto from = actor_of(in["from"].get<std::string>());
      if (!from) continue;  // the launcher's own (from "procactor")
      auto& edge = totals[{*from, *to}];
      edge.first += in.value("messages", std::uint64_t{0});
      edge.second += in.value("msgs_per_s", 0.0);
    }
  }
  return totals;
}

std::uint64_t count_in(const nlohmann::json& reply, const char* key) {
  const auto it = reply.find(key);
  return it != reply.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace

std::string request_line(std::uint64_t id, std::size_t node, const ControlRequest& request) {
  return std::to_string(id) + " " + std::to_string(node) + " " + to_request_line(request);
}

std::optional<std::uint64_t> request_id(std::string_view line) noexcept {
  if (line.ends_with('\r')) line.remove_suffix(1);
  return number<std::uint64_t>(next_word(line));
}

std::variant<addressed_request, std::string> parse_request_line(std::string_view line) noexcept {
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::string_view rest = line;
  const auto id = number<std::uint64_t>(next_word(rest));
  if (!id) return std::string("a relayed request begins with its number");
  const auto node = number<std::size_t>(next_word(rest));
  if (!node) return std::string("a relayed request names its node by number after its own");
  auto request = parse_control_request(rest);
  if (auto* why = std::get_if<std::string>(&request)) return std::move(*why);
  return addressed_request{*id, *node, std::get<ControlRequest>(std::move(request))};
}

std::string reply_frame(std::uint64_t id, std::size_t node, std::string_view text) {
  return std::string(1, frame_mark) + "reply " + std::to_string(id) + " " + std::to_string(node) + " " +
         escaped(text);
}

std::string ready_frame(std::size_t node, std::size_t count) {
  return std::string(1, frame_mark) + "ready " + std::to_string(node) + " " + std::to_string(count);
}

std::string final_frame(std::size_t node, std::string_view status_json) {
  return std::string(1, frame_mark) + "final " + std::to_string(node) + " " + escaped(status_json);
}

std::string event_frame(std::size_t node, std::string_view event_json) {
  return std::string(1, frame_mark) + "event " + std::to_string(node) + " " + escaped(event_json);
}

std::string inspected_frame(std::size_t node, std::string_view inspect_json) {
  return std::string(1, frame_mark) + "inspected " + std::to_string(node) + " " + escaped(inspect_json);
}

std::optional<frame> parse_frame(std::string_view line) noexcept {
  try {
    if (!line.starts_with(frame_mark)) return std::nullopt;
    std::string_view rest = line.substr(1);
    const std::string_view kind = next_word(rest);
    frame result;
    if (kind == "ready") {
      const auto node = number<std::size_t>(next_word(rest));
      const auto count = number<std::size_t>(next_word(rest));
      if (!node || !count || !rest.empty()) return std::nullopt;
      result.kind = frame::Kind::ready;
      result.node = *node;
      result.count = *count;
      return result;
    }
    if (kind == "final" || kind == "event" || kind == "inspected") {
      const auto node = number<std::size_t>(next_word(rest));
      auto text = unescaped(rest);
      if (!node || !text) return std::nullopt;
      result.kind = kind == "final"   ? frame::Kind::final_status
                    : kind == "event" ? frame::Kind::event
                                      : frame::Kind::final_inspect;
      result.node = *node;
      result.text = std::move(*text);
      return result;
    }
    if (kind != "reply") return std::nullopt;
    const auto id = number<std::uint64_t>(next_word(rest));
    const auto node = number<std::size_t>(next_word(rest));
    auto text = unescaped(rest);
    if (!id || !node || !text) return std::nullopt;
    result.id = *id;
    result.node = *node;
    result.text = std::move(*text);
    return result;
  } catch (...) {  // out of memory copying the text
    return std::nullopt;
  }
}

std::vector<std::size_t> nodes_for(const Graph& graph, const ControlRequest& request, std::string& error) {
  const std::size_t nodes = graph.cluster ? graph.cluster->nodes.size() : 1;
  switch (request.verb) {
    case Verb::ping: return {};
    case Verb::stop: return {0};
    case Verb::status: {
      std::vector<std::size_t> all(nodes);
      for (std::size_t n = 0; n < nodes; ++n) all[n] = n;
      return all;
    }
    case Verb::scale:
      // Adding a replica on a node means placing it, and every node's
      // senders learning its slot: not done across nodes yet.
      error = "cannot scale '" + request.target.name +
              "': scale works on single-host runs, and a multi-node run places its replicas when it starts";
      return {};
    case Verb::restart:
    case Verb::kill:
    case Verb::inspect: break;
  }
  const ActorSpec* actor = graph.find_actor(request.target.name);
  if (actor == nullptr || (request.target.replica && *request.target.replica >= actor->replicas)) {
    error = "no actor '" + to_string(request.target) + "'";
    return {};
  }
  std::vector<std::size_t> chosen;
  for (std::uint32_t r = 0; r < actor->replicas; ++r) {
    if (request.target.replica && *request.target.replica != r) continue;
    const std::size_t node = node_for_replica(graph, *actor, r);
    if (std::find(chosen.begin(), chosen.end(), node) == chosen.end()) chosen.push_back(node);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

std::string merge_replies(const Graph& graph, const std::string& run_name, const ControlRequest& request,
                          const std::vector<node_reply>& replies) {
  const std::string silent = unanswered(graph, replies);
  const std::string no_answer = "error: node " + silent + " did not answer";
  switch (request.verb) {
    case Verb::ping: return "pong";
    case Verb::stop:
    case Verb::restart:
    case Verb::kill:
    case Verb::scale: {
      // Acted when any node did, with what each node did ("ok: sent
      // SIGKILL to worker.1 (pid 4242 on node n1)"); else the first error,
      // or who was silent.
      std::string first_error;
      std::string done;
      bool acted = false;
      for (const node_reply& reply : replies) {
        if (reply.stale) continue;  // said earlier, of something else
        if (reply.text && (*reply.text == "ok" || reply.text->starts_with("ok: "))) {
          acted = true;
          if (*reply.text != "ok") done += (done.empty() ? "" : "\n") + reply.text->substr(4);
        } else if (reply.text && first_error.empty()) {
          first_error = *reply.text;
        }
      }
      if (acted) return done.empty() ? "ok" : "ok: " + done;
      if (!first_error.empty()) return first_error;
      return silent.empty() ? "error: no node answered" : no_answer;
    }
    case Verb::status:
    case Verb::inspect: break;
  }
  std::map<std::string, std::string> errors;
  const auto parsed = json_replies(graph, replies, errors);
  if (parsed.empty()) {
    return !errors.empty() ? errors.begin()->second : silent.empty() ? "error: no node answered" : no_answer;
  }
  if (request.verb == Verb::inspect) {
    return json_text(nlohmann::json{{"run", run_name}, {"instances", owned_rows(graph, parsed, "instances", replies)}});
  }
  std::uint64_t shared = 0;
  std::uint64_t corruptions = 0;
  for (const auto& [node, reply] : parsed) {
    shared += count_in(reply, "shared_memory_bytes");
    corruptions += count_in(reply, "corruptions");
  }
  nlohmann::json rows = owned_rows(graph, parsed, "actors", replies);
  const edge_totals totals = totals_of(graph, rows);
  nlohmann::json merged = {{"schema", status_schema},
                           {"run", run_name},
                           {"graph", graph.name},
                           {"actors", std::move(rows)},
                           {"edges", edge_rows(graph, totals)},
                           {"shared_memory_bytes", shared},
                           {"corruptions", corruptions}};
  if (!silent.empty()) merged["unanswered_nodes"] = silent;
  if (!errors.empty()) merged["node_errors"] = errors;
  return json_text(merged);
}

std::string final_table(const Graph& graph, const std::string& run_name, const std::vector<node_reply>& finals,
                        Verb verb) {
  ControlRequest request;
  request.verb = verb == Verb::inspect ? Verb::inspect : Verb::status;
  const std::string text = merge_replies(graph, run_name, request, finals);
  auto merged = nlohmann::json::parse(text, nullptr, false);
  if (!merged.is_object()) throw std::runtime_error(text);
  merged.erase("unanswered_nodes");
  if (const std::string lost = unanswered(graph, finals); !lost.empty()) {
    merged["lost_nodes"] = lost;
    for (auto& row : merged[request.verb == Verb::inspect ? "instances" : "actors"]) {
      if (row.value("state", "") != "unanswered") continue;
      // Counts as the node last gave them; no process, and nothing that
      // flows or runs, at the end.
      row["state"] = "lost";
      for (const char* gone : {"pid", "uptime_s", "cpu_percent", "rss_bytes", "msgs_per_s"}) {
        if (row.contains(gone)) row[gone] = 0;
      }
    }
  }
  return json_text(merged);
}

}  // namespace procactor::launcher::relay
