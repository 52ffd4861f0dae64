// The subcommands that need the runtime: launch (launch.cpp), and the
// clients of a running supervisor's control channel.
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <procactor/runtime.hpp>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "control.hpp"
#include "graph_checks.hpp"
#include "json_text.hpp"
#include "log_writer.hpp"
#include "run_client.hpp"
#include "run_dir.hpp"
#include "run_status.hpp"
#include "table.hpp"
#include "terminal.hpp"
#include "units.hpp"

#ifndef PROCACTOR_BINDIR_TO_DOCDIR
#define PROCACTOR_BINDIR_TO_DOCDIR "../share/doc/procactor"
#endif

namespace procactor::launcher {
namespace {

// docs/RELIABILITY.md as this procactor's user can open it: the installed
// copy (DOCDIR/docs/, found from the executable's own directory, so an
// extracted or moved tree finds its own) when there is one, else the path
// in a source checkout.
std::string reliability_doc() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path doc =
        (exe.parent_path() / PROCACTOR_BINDIR_TO_DOCDIR / "docs" / "RELIABILITY.md").lexically_normal();
    if (std::filesystem::is_regular_file(doc, error)) return doc.string();
  }
  return "docs/RELIABILITY.md in procactor's source";
}

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

// A state as the table shows it: green running, yellow on its way there
// (starting, restarting) or stopped by a signal, red failed or killed.
std::string state_cell(const std::string& state, bool colour) {
  if (state == "running") return paint(state, fmt::fg(fmt::terminal_color::green), colour);
  if (state == "starting" || state == "restarting" || state == "stopped") return paint(state, fmt::fg(fmt::terminal_color::yellow), colour);
  if (state == "failed" || state == "killed") return paint(state, fmt::fg(fmt::terminal_color::red), colour);
  return state;
}

// `ended`: the last table of a run that has ended (its shared memory is
// gone since).
void print_table(const nlohmann::json& status, bool ended = false) {
  const bool colour = colour_for(STDOUT_FILENO);
  std::cout << "run " << status["run"].get<std::string>() << " (graph " << status["graph"].get<std::string>()
            << ")\n";
  // A GROUP column only for graphs with [groups.NAME]: everyone else's are all "root".
  bool grouped = false;
  for (const auto& row : status["actors"]) grouped = grouped || row.value("group", "root") != "root";
  // A NODE column only for a node of a multi-node run.
  bool placed = false;
  for (const auto& row : status["actors"]) placed = placed || row.contains("node");
  bool any_remote = false;
  text_table table;
  std::vector<std::string> header = {"ACTOR", "TYPE"};
  if (placed) header.emplace_back("NODE");
  if (grouped) header.emplace_back("GROUP");
  header.insert(header.end(),
                {"PID", "STATE", "UPTIME", "RST", "CPU%", "RSS", "MBOX", "PROCESSED", "MSG/S", "LAST EXIT"});
  for (auto& title : header) title = paint(title, fmt::emphasis::bold, colour);
  table.add(std::move(header));
  for (const auto& row : status["actors"]) {
    // How near its fullest sender is to being held back (100%).
    const double fill = row["mailbox_capacity"].get<double>() > 0
                            ? 100.0 * row.value("fullest_lane_bytes", 0.0) / row["mailbox_capacity"].get<double>()
                            : 0.0;
    const std::string last_exit = row["last_exit"].get<std::string>();
    // An instance with no process (exited, restarting, on another node)
    // has no uptime, CPU or memory (its last exit, at the end of the row,
    // says how long ago).
    const int pid = row["pid"].get<int>();
    const auto if_running = [pid](std::string text) { return pid > 0 ? text : std::string("-"); };
    // In a node's own run, an instance of another node is only its mailbox
    // here: its restarts and what it handled are counted where it runs.
    const bool remote = row["state"].get<std::string>() == "remote";
    const auto if_counted = [remote](std::string text) { return remote ? std::string("-") : text; };
    any_remote = any_remote || remote;
    std::vector<std::string> cells = {row["name"].get<std::string>(), row["type"].get<std::string>()};
    if (placed) cells.push_back(row.value("node", ""));
    if (grouped) cells.push_back(row.value("group", ""));
    cells.insert(cells.end(),
                 {if_running(std::to_string(pid)), state_cell(row["state"].get<std::string>(), colour),
                  if_running(human_uptime(row["uptime_s"].get<double>())),
                  if_counted(std::to_string(row["restarts"].get<int>())),
                  if_running(fmt::format("{:.1f}", row["cpu_percent"].get<double>())),
                  if_running(human_bytes(row["rss_bytes"].get<std::uint64_t>())), fmt::format("{:.0f}%", fill),
                  if_counted(std::to_string(row["processed"].get<std::uint64_t>())),
                  if_counted(fmt::format("{:.0f}", row["msgs_per_s"].get<double>())),
                  last_exit.empty() ? std::string()
                                    : last_exit + " (" + human_uptime(row["last_exit_ago_s"].get<double>()) + " ago)"});
    table.add(std::move(cells));
  }
  std::cout << table.take();
  if (any_remote) {
    std::cout << "remote: an instance on another node (here its mailbox, MBOX); `procactor status` of the run on the "
                 "host that launched it shows every node's\n";
  }
  // Runs recorded before these fields existed have neither.
  if (status.contains("shared_memory_bytes")) {
    std::cout << (ended ? "shared memory at the end " : "shared memory ")
              << human_bytes(status["shared_memory_bytes"].get<std::uint64_t>()) << "; "
              << status.value("corruptions", std::uint64_t{0})
              << " damaged records or slot entries found (see \"Damage to shared memory\" in " << reliability_doc()
              << ")\n";
  }
  // A multi-node run whose nodes did not all answer: their rows are
  // another node's view of them ("unanswered").
  if (status.contains("unanswered_nodes")) {
    std::cout << "no answer from node " << status["unanswered_nodes"].get<std::string>() << '\n';
  }
  // The last table of one whose nodes did not all send theirs.
  if (status.contains("lost_nodes")) {
    std::cout << "no last status from node " << status["lost_nodes"].get<std::string>() << ": lost, or killed\n";
  }
  if (status.contains("node_errors")) {
    for (const auto& [node, error] : status["node_errors"].items()) {
      std::cout << "node " << node << " answered " << error.get<std::string>() << '\n';
    }
  }
}

// An ended run's last table, as it was when it ended (final_status.json),
// and when and how it ended; for a run that left no table, only that.
void print_final_status(const RunEntry& run) {
  auto status = nlohmann::json::parse(last_status_json(run));
  const bool table = status.contains("actors");
  const auto ended = ended_ms(run);
  const std::string when = ended ? local_timestamp(from_epoch_ms(*ended)) : std::string();
  if (table) {
    // Its last exits were "ago" as of the run's end: as of now.
    if (ended) {
      const double since_end = static_cast<double>(epoch_ms(wall_clock::now()) - *ended) / 1000.0;
      for (auto& row : status["actors"]) {
        if (row.value("last_exit", "").empty() || !row.contains("last_exit_ago_s")) continue;
        row["last_exit_ago_s"] = row["last_exit_ago_s"].get<double>() + std::max(0.0, since_end);
      }
    }
    print_table(status, true);
  }
  std::cout << "run " << run.name << " ended" << (ended ? " at " + when : std::string());
  if (const auto started = started_ms(run); started && ended) {
    std::cout << " after " << human_uptime(static_cast<double>(*ended - *started) / 1000.0);
  }
  std::cout << " with exit code " << run.exit_code;
  if (!table) std::cout << "; it left no last table (procactor logs " << run.name << " says how it ended)";
  std::cout << std::endl;
}

}  // namespace

std::optional<std::vector<std::string>> list_actor_types(const Graph& graph, std::vector<Diagnostic>& diagnostics,
                                                         std::vector<std::string>* typeless) {
  bool loaded = true;
  // A plugin whose static initialisation throws ends the program inside
  // dlopen; the library says which plugin and what it threw, and the graph
  // is then as unusable as one whose plugin does not load: exit 2.
  const std::terminate_handler before = std::set_terminate([] { std::_Exit(exit_usage); });
  for (const auto& plugin : graph.plugins) {
    try {
      const std::size_t types_before = Runtime::actor_types().size();
      Runtime::load_plugin(plugin.path.string());
      if (typeless != nullptr && Runtime::actor_types().size() == types_before) typeless->push_back(plugin.as_written);
    } catch (const std::exception& e) {
      diagnostics.push_back(graph.source.error_at(plugin.position, e.what()));
      loaded = false;
    }
  }
  std::set_terminate(before);
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
  // A watch stays on the run it found first, to that run's end.
  int unresolved = exit_no_such_run;
  auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
  // On a terminal each table replaces the last; into a pipe (or on a
  // terminal that cannot redraw) they follow one another, a blank line apart.
  const bool redraw = options.watch && stdout_redraws();
  for (bool first = true;; first = false) {
    if (!first) run = refreshed(*run);
    int code = exit_ok;
    ControlRequest request;
    request.verb = ControlRequest::Verb::status;
    // A watch's rates are since its own previous table, whoever else asks.
    if (options.watch) request.client = "watch-" + std::to_string(::getpid());
    auto reply = ask(*run, request, code);
    if (!reply) {
      // An ended run answers no more (still exit code 3, as every command
      // on it), but it left its last table behind. A run that died left
      // none; a script still gets an object that says so (the reason is on
      // stderr).
      const RunEntry now = refreshed(*run);
      // The last table of a watch into a pipe, a blank line after the one before.
      if (code == exit_no_such_run && options.watch && !first && !redraw && !options.json) std::cout << '\n';
      if (options.json && (code == exit_no_such_run || now.state == RunState::died)) {
        std::cout << last_status_json(now) << std::endl;
      } else if (code == exit_no_such_run) {
        print_final_status(now);
      }
      return code;
    }
    const auto status = nlohmann::json::parse(*reply, nullptr, false);
    if (status.is_discarded()) {
      std::cerr << "procactor: " << *reply << '\n';
      return exit_failure;
    }
    if (redraw) {
      std::cout << "\033[H\033[2J";
    } else if (options.watch && !first && !options.json) {
      std::cout << '\n';
    }
    if (options.json) {
      std::cout << json_text(status) << '\n';
    } else {
      print_table(status);
    }
    // Each table goes out whole as it is made, into a pipe too.
    std::cout.flush();
    // A node of a multi-node run that did not answer fails the command as a
    // one-host run that does not answer would, its table shown all the same.
    if (!options.watch) {
      return status.contains("unanswered_nodes") || status.contains("node_errors") ? exit_failure : exit_ok;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

namespace {

// A log to print, and the prefix that says whose its lines are when several
// are merged ("worker.1 | ").
struct log_source {
  std::string prefix;
  std::filesystem::path path;
};

// One file's lines, oldest first: what rotation moved aside, then the file
// itself, all read by one follower (so nothing appended or rotated
// meanwhile is lost or printed twice when -f goes on from there).
class source_reader {
 public:
  explicit source_reader(log_source source) : source_(std::move(source)), follower_(source_.path, false, true) {}

  [[nodiscard]] const log_source& source() const { return source_; }
  // Lines read from now on get this prefix (a replica that `scale` added
  // while -f follows makes the actor's lines need their instance's).
  void set_prefix(std::string prefix) { source_.prefix = std::move(prefix); }

  // The first call reads the whole history, the later ones what came since.
  std::vector<log_line> new_lines() {
    std::vector<log_line> lines;
    for (auto& line : follower_.new_lines()) add(lines, std::move(line));
    return lines;
  }

 private:
  void add(std::vector<log_line>& lines, std::string line) {
    if (const auto stamp = line_timestamp(line)) last_stamp_ = *stamp;
    lines.push_back({last_stamp_, source_.prefix + line});
  }

  log_source source_;
  log_follower follower_;
  std::string last_stamp_;
};

// The files `logs` reads: everything (run.log), a whole actor's replicas,
// or one instance; empty when the run has no such actor.
std::vector<log_source> log_sources(const RunEntry& run, const std::optional<ActorTarget>& actor) {
  if (!actor) return {{"", run.dir / "run.log"}};
  const std::vector<std::filesystem::path> found = instance_logs(run.dir / "logs", actor->name, actor->replica);
  std::vector<log_source> sources;
  for (const auto& path : found) sources.push_back({found.size() > 1 ? instance_prefix(path) : "", path});
  return sources;
}

// -f prints a line once no older one can still come: one stamped this
// long before the look began was written before it (a writer reads the
// clock right before its write). Later ones wait for the next look, and
// are merged with what it finds.
constexpr std::chrono::milliseconds settle_time{300};

// Of each file's lines not printed yet, those stamped before `mark`,
// merged; the rest stay.
std::vector<log_line> take_settled(std::vector<std::vector<log_line>>& pending, const std::string& mark) {
  std::vector<std::vector<log_line>> settled(pending.size());
  for (std::size_t f = 0; f < pending.size(); ++f) {
    auto& lines = pending[f];
    const auto later = std::find_if(lines.begin(), lines.end(), [&mark](const log_line& l) { return l.stamp >= mark; });
    settled[f].assign(std::make_move_iterator(lines.begin()), std::make_move_iterator(later));
    lines.erase(lines.begin(), later);
  }
  return merge_by_time(std::move(settled));
}

}  // namespace

int logs_command(const LogsOptions& options) {
  int unresolved = exit_no_such_run;
  auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
  const std::vector<log_source> sources = log_sources(*run, options.actor);
  if (sources.empty()) {
    std::cerr << "procactor: no actor '" << to_string(*options.actor) << "' in run " << run->name << '\n';
    return exit_no_such_run;
  }
  // Stamps of one format sort as text: no date is parsed per line.
  const std::string since = options.since ? local_timestamp(*options.since) : std::string();
  // What actors wrote reaches a terminal escaped (terminal_safe), a pipe
  // as written.
  const bool terminal = stdout_is_terminal();
  const auto print = [&since, terminal](std::vector<log_line> lines, std::optional<std::size_t> tail) {
    std::erase_if(lines, [&since](const log_line& line) { return line.stamp < since; });
    const std::size_t skip = tail && *tail < lines.size() ? lines.size() - *tail : 0;
    for (std::size_t i = skip; i < lines.size(); ++i) {
      std::cout << (terminal ? terminal_safe(lines[i].text) : lines[i].text) << '\n';
    }
    std::cout.flush();
  };
  const auto mark = [] { return local_timestamp(wall_clock::now() - settle_time); };
  std::string settled = mark();
  std::vector<std::unique_ptr<source_reader>> readers;
  std::vector<std::vector<log_line>> pending;
  for (const auto& source : sources) {
    readers.push_back(std::make_unique<source_reader>(source));
    pending.push_back(readers.back()->new_lines());
  }
  if (!options.follow) {
    print(merge_by_time(std::move(pending)), options.tail);
    return exit_ok;
  }
  print(take_settled(pending, settled), options.tail);
  // -f: what is appended while the run lives, and for a whole actor, what
  // the replicas that `scale` adds meanwhile write.
  const bool whole_actor = options.actor && !options.actor->replica;
  for (;;) {
    // Looked at before reading: a run that has ended wrote its last line
    // before, and the read gets it.
    const RunEntry now = refreshed(*run);
    const bool ended = now.state != RunState::live;
    if (whole_actor) {
      for (const auto& source : log_sources(*run, options.actor)) {
        const bool known = std::any_of(readers.begin(), readers.end(),
                                       [&](const auto& reader) { return reader->source().path == source.path; });
        if (known) continue;
        if (readers.size() == 1) readers.front()->set_prefix(instance_prefix(readers.front()->source().path));
        readers.push_back(std::make_unique<source_reader>(log_source{instance_prefix(source.path), source.path}));
        pending.push_back(readers.back()->new_lines());
      }
    }
    settled = mark();
    for (std::size_t f = 0; f < readers.size(); ++f) {
      for (auto& line : readers[f]->new_lines()) pending[f].push_back(std::move(line));
    }
    print(ended ? merge_by_time(std::move(pending)) : take_settled(pending, settled), std::nullopt);
    // A supervisor killed before it recorded the run's end: said, exit 1.
    if (now.state == RunState::died) return report_not_live(now);
    if (ended) return exit_ok;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int stop_command(const StopOptions& options) {
  int unresolved = exit_no_such_run;
  auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
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
  RunEntry now = refreshed(*run);
  for (; now.state == RunState::live; now = refreshed(*run)) {
    // Stopped (SIGSTOP, a debugger) while it stops the run: it will not
    // end until it is continued, and this wait would have no end either.
    if (process_stopped(now.supervisor_pid)) {
      std::cerr << "procactor: run " << run->name << "'s supervisor (pid " << now.supervisor_pid
                << ") was stopped (by SIGSTOP or Ctrl-Z, or held by a debugger) as it stopped the run; `kill -CONT "
                << now.supervisor_pid << "` lets it go on, and the stop with it\n";
      return exit_failure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Killed before it recorded how the run ended: not a stop.
  if (now.state == RunState::died) return report_not_live(now);
  if (now.exit_code > 0) {
    std::cout << "stopped run " << run->name << "; it ended with exit code " << now.exit_code << " (`procactor logs "
              << run->name << "` shows why)\n";
    return exit_failure;
  }
  std::cout << "stopped run " << run->name << '\n';
  return exit_ok;
}

namespace {

int simple_request(const std::string& run_name, const ControlRequest& request) {
  int unresolved = exit_no_such_run;
  auto run = resolve(run_name, unresolved);
  if (!run) return unresolved;
  int code = exit_ok;
  auto reply = ask(*run, request, code);
  if (!reply) return code;
  // "ok", or "ok: what was done" (scale), which is printed.
  if (*reply != "ok" && !reply->starts_with("ok: ")) {
    std::cerr << "procactor: " << *reply << '\n';
    return reply->starts_with("error: no actor") ? exit_no_such_run : exit_failure;
  }
  if (*reply != "ok") std::cout << reply->substr(4) << '\n';
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

int scale_command(const ScaleOptions& options) {
  // A usage error, told before the run is asked anything.
  if (const auto target = parse_actor_target(options.actor); target && target->replica) {
    std::cerr << "procactor: scale takes an actor, not one replica: '" << options.actor << "' (procactor scale "
              << options.run << " " << target->name << " N sets how many replicas it has)\n";
    return exit_usage;
  }
  ControlRequest request;
  request.verb = ControlRequest::Verb::scale;
  request.target.name = options.actor;
  request.replicas = options.replicas;
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
