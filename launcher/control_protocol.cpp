#include "control_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>
#include <vector>

#include "graph.hpp"  // max_instances_per_run

namespace procactor::launcher {

namespace {

using namespace std::string_view_literals;
using Verb = ControlRequest::Verb;

constexpr std::array<std::pair<std::string_view, Verb>, 7> verbs{{
    {"ping"sv, Verb::ping},
    {"status"sv, Verb::status},
    {"stop"sv, Verb::stop},
    {"restart"sv, Verb::restart},
    {"kill"sv, Verb::kill},
    {"inspect"sv, Verb::inspect},
    {"scale"sv, Verb::scale},
}};
constexpr std::string_view verb_list = "ping, status, stop, restart, kill, inspect or scale";

// What the client sent, quoted in an error: bounded, so that a reply never
// echoes a whole request back.
std::string quoted(std::string_view word) {
  constexpr std::size_t shown = 40;
  return "'" + std::string(word.substr(0, shown)) + (word.size() > shown ? "...'" : "'");
}

std::string hex_byte(unsigned char byte) {
  constexpr std::string_view digits = "0123456789abcdef";
  return std::string("0x") + digits[byte >> 4U] + digits[byte & 0xfU];
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    const std::size_t start = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t') ++at;
    if (at > start) words.push_back(line.substr(start, at - start));
  }
  return words;
}

std::variant<ControlRequest, std::string> parse(std::string_view line) {
  if (line.size() > max_request_bytes) {
    return "request longer than " + std::to_string(max_request_bytes) + " bytes";
  }
  if (line.ends_with('\r')) line.remove_suffix(1);
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto byte = static_cast<unsigned char>(line[i]);
    if ((byte < 0x20 && byte != '\t') || byte >= 0x7f) {
      return "request holds byte " + hex_byte(byte) + " at offset " + std::to_string(i) +
             "; requests are printable ASCII";
    }
  }
  const std::vector<std::string_view> words = words_of(line);
  if (words.empty()) return "empty request (expected " + std::string(verb_list) + ")";

  ControlRequest request;
  const auto known = std::find_if(verbs.begin(), verbs.end(), [&](const auto& v) { return v.first == words[0]; });
  if (known == verbs.end()) {
    return "unknown request " + quoted(words[0]) + " (expected " + std::string(verb_list) + ")";
  }
  request.verb = known->second;
  const std::string verb(words[0]);
  const auto too_many = [&](std::size_t allowed, std::string_view usage) {
    return verb + " takes " + std::string(usage) + "; unexpected " + quoted(words[allowed + 1]);
  };

  switch (request.verb) {
    case Verb::ping:
      if (words.size() > 1) return too_many(0, "no arguments");
      return request;
    case Verb::status:
      if (words.size() > 2) return too_many(1, "at most a client name");
      if (words.size() == 2) {
        const std::string_view client = words[1];
        const bool valid = client.size() <= max_client_bytes && client.front() != '-' && client.front() != '_' &&
                           std::all_of(client.begin(), client.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                    c == '-' || c == '_';
                           });
        if (!valid) {
          return "status client " + quoted(client) + " is not 1 to " + std::to_string(max_client_bytes) +
                 " letters, digits, '-' or '_', starting with a letter or digit";
        }
        request.client = std::string(client);
      }
      return request;
    case Verb::stop: {
      if (words.size() > 2) return too_many(1, "at most a timeout in nanoseconds");
      if (words.size() == 2) {
        std::int64_t nanoseconds = 0;
        const auto [end, error] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), nanoseconds);
        if (error != std::errc() || end != words[1].data() + words[1].size() || nanoseconds < 0) {
          return "stop timeout " + quoted(words[1]) + " is not a whole number of nanoseconds";
        }
        request.stop_timeout = std::chrono::nanoseconds(nanoseconds);
      }
      return request;
    }
    case Verb::restart:
    case Verb::kill:
    case Verb::inspect: {
      const bool kill = request.verb == Verb::kill;
      const bool restart = request.verb == Verb::restart;
      if (words.size() < 2) return verb + " needs an actor: ACTOR or ACTOR.N";
      if (words.size() > (kill || restart ? 3U : 2U)) {
        return too_many(kill || restart ? 2 : 1,
                        kill ? "an actor and a signal" : restart ? "an actor, and force or drain" : "one actor");
      }
      auto target = parse_actor_target(words[1]);
      if (!target) return quoted(words[1]) + " is not ACTOR or ACTOR.N";
      request.target = std::move(*target);
      if (restart && words.size() == 3) {
        if (words[2] == "force") {
          request.force = true;
        } else if (words[2] == "drain") {
          request.drain = true;
        } else {
          return "unknown restart option " + quoted(words[2]) + " (expected force or drain)";
        }
      }
      if (kill) {
        request.signal = SIGKILL;
        if (words.size() == 3) {
          const auto signal = parse_signal(words[2]);
          if (!signal) {
            return "unknown signal " + quoted(words[2]) + " (a name such as TERM, or a number from 1 to 64)";
          }
          request.signal = *signal;
        }
      }
      return request;
    }
    case Verb::scale: {
      if (words.size() < 3) return "scale needs an actor and a number of replicas: scale ACTOR N";
      if (words.size() > 3) return too_many(2, "an actor and a number of replicas");
      auto target = parse_actor_target(words[1]);
      if (!target) return quoted(words[1]) + " is not an actor name";
      if (target->replica) return "scale takes an actor, not one replica: " + quoted(words[1]);
      request.target = std::move(*target);
      std::uint32_t replicas = 0;
      const auto [end, error] = std::from_chars(words[2].data(), words[2].data() + words[2].size(), replicas);
      if (error != std::errc() || end != words[2].data() + words[2].size() || replicas < 1 ||
          replicas > max_instances_per_run) {
        return "number of replicas " + quoted(words[2]) + " is not a whole number from 1 to " +
               std::to_string(max_instances_per_run);
      }
      request.replicas = replicas;
      return request;
    }
  }
  return std::string("unknown request");
}

}  // namespace

std::variant<ControlRequest, std::string> parse_control_request(std::string_view line) noexcept {
  // Nothing in parse() throws but an allocation failure, on bounded sizes;
  // the catch keeps the promise to a fuzzer or a server all the same (the
  // short literal fits std::string's inline buffer: no allocation).
  try {
    return parse(line);
  } catch (...) {
    return std::string("out of memory");
  }
}

std::string to_request_line(const ControlRequest& request) {
  switch (request.verb) {
    case Verb::ping: return "ping";
    case Verb::status: return request.client.empty() ? "status" : "status " + request.client;
    case Verb::stop:
      return request.stop_timeout ? "stop " + std::to_string(request.stop_timeout->count()) : "stop";
    case Verb::restart:
      // force wins: a forced restart has nothing left to drain.
      return "restart " + to_string(request.target) + (request.force ? " force" : request.drain ? " drain" : "");
    case Verb::inspect: return "inspect " + to_string(request.target);
    case Verb::kill: return "kill " + to_string(request.target) + " " + std::to_string(request.signal);
    case Verb::scale: return "scale " + to_string(request.target) + " " + std::to_string(request.replicas);
  }
  return {};
}

}  // namespace procactor::launcher
