#include "run_inspect.hpp"

#include <ctime>

namespace procactor::launcher {

namespace {

std::string utc_text(std::chrono::system_clock::time_point at) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  return text;
}

nlohmann::json exit_json(const ExitRecord& record) {
  nlohmann::json inflight = nullptr;
  if (!record.inflight_type.empty()) {
    inflight = {{"type", record.inflight_type}, {"sender", record.inflight_sender}, {"attempt", record.attempt}};
  }
  return {{"exit_code", record.exit_code},
          {"signal", record.signal},
          {"core_dumped", record.core_dumped},
          {"how", record.how},
          {"cause", record.cause},
          {"uptime_ms", record.uptime.count()},
          {"at", utc_text(record.at)},
          {"at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(record.at.time_since_epoch()).count()},
          {"inflight", inflight},
          {"stderr_tail", record.stderr_tail}};
}

std::string sender_name(Runtime& rt, const ActorRef& sender) {
  if (!sender.valid()) return "unknown";
  // Slot 0, the supervisor, has no ActorInfo of its own.
  if (sender.slot() == 0) return "supervisor";
  try {
    return rt.info(sender).name;
  } catch (const error&) {
    return "unknown";  // a slot this run never filled
  }
}

}  // namespace

std::string hex_preview(const std::vector<std::byte>& bytes, std::size_t limit) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  const std::size_t shown = std::min(bytes.size(), limit);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = std::to_integer<unsigned>(bytes[i]);
    if (i != 0) text += ' ';
    text += digits[byte >> 4U];
    text += digits[byte & 0xfU];
  }
  if (bytes.size() > shown) text += " ...";
  return text;
}

nlohmann::json inspect_json(Runtime& rt, const Graph& graph, const std::string& run_name,
                            const std::vector<instance_ref>& chosen) {
  const std::vector<DeadLetter> letters = rt.dead_letters();
  nlohmann::json rows = nlohmann::json::array();
  for (const instance_ref& inst : chosen) {
    const ActorInfo info = inst.ref.valid() ? rt.info(inst.ref) : ActorInfo{};
    nlohmann::json exits = nlohmann::json::array();
    for (const ExitRecord& record : info.exits) exits.push_back(exit_json(record));
    nlohmann::json dead = nlohmann::json::array();
    for (const DeadLetter& letter : letters) {
      if (letter.actor != inst.name) continue;
      dead.push_back({{"type", letter.type_name.empty() ? "type " + std::to_string(letter.type) : letter.type_name},
                      {"size", letter.payload.size()},
                      {"sender", sender_name(rt, letter.sender)},
                      {"reason", letter.reason},
                      {"attempts", letter.attempts},
                      {"preview_hex", hex_preview(letter.payload, dead_letter_preview_bytes)}});
    }
    const ActorSpec& actor = graph.actors[inst.actor];
    rows.push_back({{"name", inst.name},
                    {"type", actor.type},
                    {"group", info.group.empty() ? actor.group : info.group},
                    {"pid", info.pid},
                    {"state", inst.remote ? std::string("remote") : std::string(to_string(info.state))},
                    {"restarts", info.restarts},
                    {"exits", exits},
                    {"dead_letters", dead},
                    // Every one, of which the run keeps the newest (Options::dead_letters_kept).
                    {"dead_letters_total", info.dead_letters}});
    // As in status: on a node of a multi-node run, the node that runs it
    // (a remote one is only its mailbox here).
    if (graph.cluster) {
      rows.back()["node"] = graph.cluster->nodes[node_for_replica(graph, actor, inst.replica)].name;
    }
  }
  return {{"run", run_name}, {"instances", rows}};
}

}  // namespace procactor::launcher
