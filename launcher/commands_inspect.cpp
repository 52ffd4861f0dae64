// `procactor inspect RUN ACTOR[.N]`: why an actor's instances exited and
// what they could not handle, from the run's supervisor (run_inspect.hpp
// says what the reply holds).
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "json_text.hpp"
#include "log_writer.hpp"
#include "run_client.hpp"
#include "terminal.hpp"
#include "units.hpp"

namespace procactor::launcher {

namespace {

std::string uptime_text(std::int64_t ms) {
  std::ostringstream text;
  if (ms < 1000) {
    text << ms << "ms";
  } else if (ms < 60'000) {
    text << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000.0 << "s";
  } else {
    text << ms / 60'000 << "m" << (ms / 1000) % 60 << "s";
  }
  return text.str();
}

void print_instance(const nlohmann::json& row) {
  const int pid = row.value("pid", 0);
  const std::string node = row.value("node", "");
  const std::string state = row.value("state", "");
  std::cout << row.value("name", "") << " (" << row.value("type", "") << ", group " << row.value("group", "")
            << (node.empty() ? "" : ", node " + node) << "): "
            << (state == "remote" ? "remote: it runs on node " + node + ", where it has its process and its exits" : state)
            << (pid > 0 ? ", pid " + std::to_string(pid) : std::string()) << ", "
            << format_count(row.value("restarts", std::uint64_t{0}), "restart") << '\n';
  const auto& exits = row["exits"];
  if (exits.empty()) {
    std::cout << "  no exits yet\n";
  } else {
    std::cout << "  last " << format_count(exits.size(), "exit") << ", oldest first:\n";
  }
  for (const auto& exit : exits) {
    // In local time, as `events` and `logs` print theirs (--json has
    // both: "at" in UTC, "at_ms").
    const std::string at = exit.contains("at_ms") ? local_timestamp(from_epoch_ms(exit["at_ms"].get<std::int64_t>()))
                                                  : exit.value("at", "");
    std::cout << "    " << at << "  " << exit.value("how", "") << " after "
              << uptime_text(exit.value("uptime_ms", std::int64_t{0})) << ": " << exit.value("cause", "") << '\n';
    if (const auto& inflight = exit["inflight"]; inflight.is_object()) {
      std::cout << "      in flight: " << inflight.value("type", "") << " from " << inflight.value("sender", "")
                << ", attempt " << inflight.value("attempt", 0) << '\n';
    }
    const auto& tail = exit["stderr_tail"];
    if (!tail.empty()) {
      std::cout << "      last lines on stderr:\n";
      // What the actor wrote: on a terminal with its control characters
      // written out, as `logs` shows it.
      for (const auto& line : tail) {
        const std::string text = line.get<std::string>();
        std::cout << "        | " << (stdout_is_terminal() ? terminal_safe(text) : text) << '\n';
      }
    }
  }
  // The newest few: the run keeps up to 10,000, all in --json.
  constexpr std::size_t shown = 10;
  const auto& letters = row["dead_letters"];
  const std::uint64_t total = std::max<std::uint64_t>(row.value("dead_letters_total", std::uint64_t{0}), letters.size());
  std::cout << "  " << format_count(total, "dead letter");
  if (letters.size() > shown) {
    std::cout << ", the newest " << shown << " (--json has the " << letters.size() << " the run keeps)";
  } else if (total > letters.size()) {
    std::cout << ", the " << letters.size() << " the run keeps";
  }
  std::cout << (letters.empty() ? "\n" : ":\n");
  for (std::size_t i = letters.size() > shown ? letters.size() - shown : 0; i < letters.size(); ++i) {
    const auto& letter = letters[i];
    std::cout << "    " << letter.value("type", "") << ", " << format_count(letter.value("size", std::uint64_t{0}), "byte")
              << ", from " << letter.value("sender", "");
    const auto attempts = letter.value("attempts", 0);
    if (attempts > 0) std::cout << ", " << format_count(static_cast<std::uint64_t>(attempts), "attempt");
    std::cout << ": " << letter.value("reason", "") << '\n';
    const std::string preview = letter.value("preview_hex", "");
    if (!preview.empty()) std::cout << "      " << preview << '\n';
  }
}

// The instances of `target` in the report an ended run left
// (final_inspect.json), as the live run would answer; an error line where
// it left none or has no such actor.
std::optional<std::string> final_report(const RunEntry& run, const ActorTarget& target) {
  const auto text = final_inspect(run);
  auto report = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  if (!report.is_object() || !report.contains("instances")) return std::nullopt;
  nlohmann::json chosen = nlohmann::json::array();
  for (auto& row : report["instances"]) {
    const auto target_of = parse_actor_target(row.value("name", ""));
    if (target_of && target_of->name == target.name && (!target.replica || target.replica == target_of->replica)) {
      chosen.push_back(std::move(row));
    }
  }
  if (chosen.empty()) return "error: no actor '" + to_string(target) + "' in run " + run.name;
  report["instances"] = std::move(chosen);
  report["run"] = run.name;  // recorded under the name the run had then
  report["run_state"] = "ended";
  return json_text(report);
}

}  // namespace

int inspect_command(const InspectOptions& options) {
  int unresolved = exit_no_such_run;
  auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
  ControlRequest request;
  request.verb = ControlRequest::Verb::inspect;
  request.target = options.actor;
  int code = exit_ok;
  auto reply = ask(*run, request, code);
  // An ended run answers no more (exit code 3, as every command on it),
  // but it left what inspect shows as it was at its end.
  if (!reply && code == exit_no_such_run) reply = final_report(refreshed(*run), options.actor);
  if (!reply) return code;
  const auto report = nlohmann::json::parse(*reply, nullptr, false);
  if (report.is_discarded() || !report.contains("instances")) {
    std::cerr << "procactor: " << *reply << '\n';
    return reply->starts_with("error: no actor") ? exit_no_such_run : exit_failure;
  }
  if (options.json) {
    std::cout << json_text(report) << std::endl;
    return code;
  }
  bool first = true;
  for (const auto& row : report["instances"]) {
    if (!first) std::cout << '\n';
    first = false;
    print_instance(row);
  }
  if (code != exit_ok) std::cout << "\n(as it was when run " << run->name << " ended)" << std::endl;
  return code;
}

}  // namespace procactor::launcher
