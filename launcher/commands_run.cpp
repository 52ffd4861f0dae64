// The subcommands that need the runtime: launch (launch.cpp), and the
// clients of a running supervisor's control channel.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "control.hpp"
#include "graph_checks.hpp"
#include "run_client.hpp"
#include "run_dir.hpp"
#include "units.hpp"

namespace procactor::launcher {
namespace {

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream text;
  text << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << units[unit];
  return text.str();
}

std::string human_uptime(double seconds) {
  std::ostringstream text;
  if (seconds < 60) {
    text << std::fixed << std::setprecision(1) << seconds << "s";
  } else if (seconds < 3600) {
    text << static_cast<int>(seconds / 60) << "m" << static_cast<int>(seconds) % 60 << "s";
  } else {
    text << static_cast<int>(seconds / 3600) << "h" << static_cast<int>(seconds / 60) % 60 << "m";
  }
  return text.str();
}

void print_table(const nlohmann::json& status) {
  std::cout << "run " << status["run"].get<std::string>() << " (graph " << status["graph"].get<std::string>()
            << ")\n";
  // A GROUP column only for graphs with [groups.NAME]: everyone else's are all "root".
  bool grouped = false;
  for (const auto& row : status["actors"]) grouped = grouped || row.value("group", "root") != "root";
  // A NODE column only for a node of a multi-node run.
  bool placed = false;
  for (const auto& row : status["actors"]) placed = placed || row.contains("node");
  std::cout << std::left << std::setw(14) << "ACTOR" << std::setw(24) << "TYPE";
  if (placed) std::cout << std::setw(8) << "NODE";
  if (grouped) std::cout << std::setw(12) << "GROUP";
  std::cout << std::setw(8) << "PID" << std::setw(11) << "STATE" << std::setw(9) << "UPTIME" << std::setw(5) << "RST"
            << std::setw(7) << "CPU%" << std::setw(10) << "RSS" << std::setw(8) << "MBOX" << std::setw(12)
            << "PROCESSED" << std::setw(10) << "MSG/S" << "LAST EXIT\n";
  for (const auto& row : status["actors"]) {
    const double fill = row["mailbox_capacity"].get<double>() > 0
                            ? 100.0 * row["queued_bytes"].get<double>() / row["mailbox_capacity"].get<double>()
                            : 0.0;
    std::ostringstream cpu, mbox, rate;
    cpu << std::fixed << std::setprecision(1) << row["cpu_percent"].get<double>();
    mbox << std::fixed << std::setprecision(0) << fill << "%";
    rate << std::fixed << std::setprecision(0) << row["msgs_per_s"].get<double>();
    std::cout << std::left << std::setw(14) << row["name"].get<std::string>() << std::setw(24)
              << row["type"].get<std::string>();
    if (placed) std::cout << std::setw(8) << row.value("node", "");
    if (grouped) std::cout << std::setw(12) << row.value("group", "");
    std::cout << std::setw(8) << row["pid"].get<int>() << std::setw(11) << row["state"].get<std::string>()
              << std::setw(9) << human_uptime(row["uptime_s"].get<double>()) << std::setw(5)
              << row["restarts"].get<int>() << std::setw(7) << cpu.str() << std::setw(10)
              << human_bytes(row["rss_bytes"].get<std::uint64_t>()) << std::setw(8) << mbox.str() << std::setw(12)
              << row["processed"].get<std::uint64_t>() << std::setw(10) << rate.str()
              << row["last_exit"].get<std::string>()
              << (row["last_exit"].get<std::string>().empty()
                      ? ""
                      : " (" + human_uptime(row["last_exit_ago_s"].get<double>()) + " ago)")
              << '\n';
  }
  // Runs recorded before these fields existed have neither.
  if (status.contains("shared_memory_bytes")) {
    std::cout << "shared memory " << human_bytes(status["shared_memory_bytes"].get<std::uint64_t>()) << "; "
              << status.value("corruptions", std::uint64_t{0})
              << " damaged records or slot entries found (see docs/RELIABILITY.md)\n";
  }
  // A multi-node run whose nodes did not all answer: their rows are
  // another node's view of them ("unanswered").
  if (status.contains("unanswered_nodes")) {
    std::cout << "no answer from node " << status["unanswered_nodes"].get<std::string>() << '\n';
  }
  if (status.contains("node_errors")) {
    for (const auto& [node, error] : status["node_errors"].items()) {
      std::cout << "node " << node << " answered " << error.get<std::string>() << '\n';
    }
  }
}

}  // namespace

std::optional<std::vector<std::string>> list_actor_types(const Graph& graph, std::vector<Diagnostic>& diagnostics) {
  bool loaded = true;
  for (const auto& plugin : graph.plugins) {
    try {
      Runtime::load_plugin(plugin.path.string());
    } catch (const std::exception& e) {
      diagnostics.push_back(graph.source.error_at(plugin.position, e.what()));
      loaded = false;
    }
  }
  if (!loaded) return std::nullopt;
  auto types = Runtime::actor_types();
  // Parameters the loaded types declare are checked here too, before
  // anything starts.
  for (const auto& actor : graph.actors) {
    if (std::find(types.begin(), types.end(), actor.type) == types.end()) continue;
    auto declared = Runtime::actor_parameters(actor.type);
    if (!declared) continue;
    for (auto& d : check_params(graph, actor, *declared)) diagnostics.push_back(std::move(d));
  }
  return types;
}

int status_command(const StatusOptions& options) {
  for (;;) {
    auto run = resolve(options.run);
    if (!run) return exit_no_such_run;
    int code = exit_ok;
    ControlRequest request;
    request.verb = ControlRequest::Verb::status;
    auto reply = ask(*run, request, code);
    if (!reply) return code;
    const auto status = nlohmann::json::parse(*reply, nullptr, false);
    if (status.is_discarded()) {
      std::cerr << "procactor: " << *reply << '\n';
      return exit_failure;
    }
    if (options.watch && ::isatty(STDOUT_FILENO) != 0) std::cout << "\033[H\033[2J";
    if (options.json) {
      std::cout << status.dump() << std::endl;
    } else {
      print_table(status);
    }
    if (!options.watch) return exit_ok;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int logs_command(const LogsOptions& options) {
  auto run = resolve(options.run);
  if (!run) return exit_no_such_run;
  // One file, or several prefixed: everything (run.log), a whole actor, or
  // one instance.
  std::vector<std::pair<std::string, std::filesystem::path>> files;
  if (!options.actor) {
    files.emplace_back("", run->dir / "run.log");
  } else {
    const std::string wanted = options.actor->name;
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(run->dir / "logs")) {
      const std::string stem = entry.path().stem().string();
      const std::string base = stem.substr(0, stem.rfind('.'));
      const bool match = options.actor->replica ? stem == wanted + "." + std::to_string(*options.actor->replica)
                                                : base == wanted;
      if (match) found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) {
      std::cerr << "procactor: no actor '" << to_string(*options.actor) << "' in run " << run->name << '\n';
      return exit_no_such_run;
    }
    for (const auto& path : found) files.emplace_back(found.size() > 1 ? path.stem().string() + " | " : "", path);
  }
  std::vector<std::string> lines;
  for (const auto& [prefix, path] : files) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) lines.push_back(prefix + line);
  }
  const std::size_t skip = options.tail && *options.tail < lines.size() ? lines.size() - *options.tail : 0;
  for (std::size_t i = skip; i < lines.size(); ++i) std::cout << lines[i] << '\n';
  std::cout.flush();
  if (!options.follow) return exit_ok;
  // -f: print what is appended while the run lives.
  std::vector<std::ifstream> streams;
  for (const auto& [prefix, path] : files) {
    streams.emplace_back(path);
    streams.back().seekg(0, std::ios::end);
  }
  for (;;) {
    bool any = false;
    for (std::size_t i = 0; i < streams.size(); ++i) {
      std::string line;
      while (std::getline(streams[i], line)) {
        std::cout << files[i].first << line << '\n';
        any = true;
      }
      streams[i].clear();
    }
    std::cout.flush();
    if (!any && refreshed(*run).state != RunState::live) return exit_ok;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int stop_command(const StopOptions& options) {
  auto run = resolve(options.run);
  if (!run) return exit_no_such_run;
  int code = exit_ok;
  ControlRequest request;
  request.verb = ControlRequest::Verb::stop;
  request.stop_timeout = options.timeout;
  auto reply = ask(*run, request, code);
  if (!reply) return code;
  if (*reply != "ok") {
    std::cerr << "procactor: " << *reply << '\n';
    return exit_failure;
  }
  // Done when the supervisor has exited: its lock goes with it, after the
  // last actor and the shared memory.
  while (refreshed(*run).state == RunState::live) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::cout << "stopped run " << run->name << '\n';
  return exit_ok;
}

namespace {

int simple_request(const std::string& run_name, const ControlRequest& request) {
  auto run = resolve(run_name);
  if (!run) return exit_no_such_run;
  int code = exit_ok;
  auto reply = ask(*run, request, code);
  if (!reply) return code;
  if (*reply != "ok") {
    std::cerr << "procactor: " << *reply << '\n';
    return reply->starts_with("error: no actor") ? exit_no_such_run : exit_failure;
  }
  return exit_ok;
}

}  // namespace

int restart_command(const RestartCommandOptions& options) {
  ControlRequest request;
  request.verb = ControlRequest::Verb::restart;
  request.target = options.actor;
  request.force = options.force;
  request.drain = options.drain;
  return simple_request(options.run, request);
}

int kill_command(const KillOptions& options) {
  ControlRequest request;
  request.verb = ControlRequest::Verb::kill;
  request.target = options.actor;
  request.signal = options.signal;
  return simple_request(options.run, request);
}

}  // namespace procactor::launcher
