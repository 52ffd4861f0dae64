// The runs' records, read from their directories: `ls`, every run there is,
// and `events`, what happened in one. A live run is asked for its counts;
// an ended one's come from what it wrote as it ended (final_status.json).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "control.hpp"
#include "control_protocol.hpp"
#include "json_text.hpp"
#include "log_writer.hpp"
#include "run_client.hpp"
#include "run_dir.hpp"
#include "table.hpp"
#include "terminal.hpp"

namespace procactor::launcher {
namespace {

using json = nlohmann::json;

// How long `ls` waits for a live run's answer: a wedged supervisor costs
// the listing this much, not the minute a command that acts on it waits.
constexpr std::chrono::seconds live_answer_limit{5};

const char* state_name(RunState state) {
  switch (state) {
    case RunState::live: return "live";
    case RunState::ended: return "ended";
    case RunState::died: return "died";
  }
  return "died";
}

// One row of `ls`; an absent value prints as "-" (JSON null).
struct run_row {
  RunEntry run;
  std::optional<std::int64_t> started_ms;
  std::optional<std::int64_t> ended_ms;
  std::optional<std::int64_t> duration_ms;
  std::optional<std::size_t> actors;
  std::optional<std::int64_t> restarts;
  std::optional<GraphRecord> graph;
  // A live run whose supervisor is stopped (SIGSTOP, Ctrl-Z, a debugger):
  // it answers nothing until continued, and is listed as `stopped`.
  bool stopped = false;
};

// The STATE shown: a run's, or `stopped` for a live one that cannot answer.
const char* shown_state(const run_row& row) { return row.stopped ? "stopped" : state_name(row.run.state); }

// The actors of a status object and their restarts, added up.
void count_from(const std::string& status_text, run_row& row) {
  const json status = json::parse(status_text, nullptr, false);
  if (status.is_discarded() || !status.is_object() || !status.contains("actors") || !status["actors"].is_array()) {
    return;
  }
  std::int64_t restarts = 0;
  for (const auto& actor : status["actors"]) restarts += actor.value("restarts", std::int64_t{0});
  row.actors = status["actors"].size();
  row.restarts = restarts;
}

run_row row_of(const RunEntry& run, std::int64_t now) {
  run_row row{run, started_ms(run), std::nullopt, std::nullopt, std::nullopt, std::nullopt, graph_record(run)};
  if (run.state == RunState::live) {
    row.stopped = process_stopped(run.supervisor_pid);
    if (row.started_ms) row.duration_ms = now - *row.started_ms;
    if (row.stopped) return row;  // asked, it would cost the listing live_answer_limit
    ControlRequest request;
    request.verb = ControlRequest::Verb::status;
    if (auto reply = control_request(run.dir / "control.sock", to_request_line(request), live_answer_limit)) {
      count_from(*reply, row);
    }
    return row;
  }
  if (auto status = final_status(run)) count_from(*status, row);
  // A run that died left no end: its duration is unknown.
  if (run.state == RunState::ended) row.ended_ms = ended_ms(run);
  if (row.started_ms && row.ended_ms) row.duration_ms = std::max<std::int64_t>(0, *row.ended_ms - *row.started_ms);
  return row;
}

// "12.3s", "5m3s", "2h5m", "3d4h".
std::string human_duration(std::int64_t ms) {
  const double seconds = static_cast<double>(ms) / 1000.0;
  const std::int64_t whole = ms / 1000;
  std::ostringstream text;
  if (seconds < 60) {
    text << std::fixed << std::setprecision(1) << seconds << "s";
  } else if (whole < 3600) {
    text << whole / 60 << "m" << whole % 60 << "s";
  } else if (whole < 86400) {
    text << whole / 3600 << "h" << whole / 60 % 60 << "m";
  } else {
    text << whole / 86400 << "d" << whole / 3600 % 24 << "h";
  }
  return text.str();
}

// "2026-12-03 07:55:01": to the second, for a table.
std::string table_time(std::int64_t ms) {
  std::string text = local_timestamp(from_epoch_ms(ms)).substr(0, 19);
  text[10] = ' ';
  return text;
}

template <class T>
std::string or_dash(const std::optional<T>& value) {
  return value ? std::to_string(*value) : "-";
}

template <class T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json();
}

void print_table(const std::vector<run_row>& rows) {
  const bool colour = colour_for(STDOUT_FILENO);
  text_table table;
  std::vector<std::string> header = {"NAME", "STATE", "STARTED", "DURATION", "ACTORS", "RESTARTS", "EXIT"};
  for (auto& title : header) title = paint(title, fmt::emphasis::bold, colour);
  table.add(std::move(header));
  for (const auto& row : rows) {
    const bool exited = row.run.state == RunState::ended && row.run.exit_code >= 0;
    // Green while it runs, yellow while it is stopped, red when it died;
    // an ended run's EXIT says how.
    const fmt::text_style style = row.stopped                       ? fmt::fg(fmt::terminal_color::yellow)
                                  : row.run.state == RunState::live ? fmt::fg(fmt::terminal_color::green)
                                  : row.run.state == RunState::died ? fmt::fg(fmt::terminal_color::red)
                                                                    : fmt::text_style();
    table.add({row.run.name, paint(shown_state(row), style, colour), row.started_ms ? table_time(*row.started_ms) : "-",
               row.duration_ms ? human_duration(*row.duration_ms) : "-", or_dash(row.actors), or_dash(row.restarts),
               exited ? std::to_string(row.run.exit_code) : "-"});
  }
  std::cout << table.take();
}

json json_of(const run_row& row) {
  const auto time = [](const std::optional<std::int64_t>& ms) {
    return ms ? json(local_timestamp(from_epoch_ms(*ms))) : json();
  };
  const bool exited = row.run.state == RunState::ended && row.run.exit_code >= 0;
  return {{"name", row.run.name},
          {"state", shown_state(row)},
          {"started", time(row.started_ms)},
          {"started_ms", or_null(row.started_ms)},
          {"ended", time(row.ended_ms)},
          {"ended_ms", or_null(row.ended_ms)},
          {"duration_ms", or_null(row.duration_ms)},
          {"actors", or_null(row.actors)},
          {"restarts", or_null(row.restarts)},
          {"exit_code", exited ? json(row.run.exit_code) : json()},
          {"graph", row.graph ? json(row.graph->name) : json()},
          {"file", row.graph && !row.graph->file.empty() ? json(row.graph->file.string()) : json()},
          {"supervisor_pid", row.run.supervisor_pid > 0 ? json(row.run.supervisor_pid) : json()},
          {"dir", row.run.dir.string()}};
}

// A line of events.jsonl that is not an event (damaged, or written by
// something else): said on standard error, quoted (its first 200 bytes,
// safe for a terminal), and left out of what is printed, so that
// `--json` prints only events.
void say_not_an_event(const std::string& run, const std::string& line) {
  constexpr std::size_t quoted = 200;
  std::string text = terminal_safe(std::string_view(line).substr(0, quoted));
  if (line.size() > quoted) text += "...";
  std::cerr << "procactor: run " << run
            << "'s event log (events.jsonl) has a line that is not an event, left out: " << text << std::endl;
}

// One event as a row: time, kind, actor, then the pid (on its node, in a
// multi-node run) and what happened. What happened can quote an actor (an
// exception's text): on a terminal it is terminal_safe.
void add_event(text_table& table, const json& event, bool terminal) {
  const std::string actor = event.value("actor", "");
  const int pid = event.value("pid", 0);
  std::string node = event.contains("node") && event["node"].is_string() ? event["node"].get<std::string>() : "";
  std::string detail = event.value("detail", "");
  if (terminal) {
    detail = terminal_safe(detail);
    node = terminal_safe(node);
  }
  const std::string where = node.empty() ? "" : " on " + node;
  table.add({event.value("time", ""), event.value("kind", ""), actor.empty() ? "-" : actor,
             pid > 0 ? "pid " + std::to_string(pid) + where + (detail.empty() ? "" : ": ") + detail
                     : (node.empty() ? detail : node + (detail.empty() ? "" : ": ") + detail)});
}

}  // namespace

int ls_command(const LsOptions& options) {
  const std::int64_t now = epoch_ms(wall_clock::now());
  std::vector<run_row> rows;
  for (const auto& run : list_runs()) rows.push_back(row_of(run, now));
  // Newest first; a run that recorded no start last.
  std::sort(rows.begin(), rows.end(), [](const run_row& a, const run_row& b) {
    if (a.started_ms != b.started_ms) return a.started_ms.value_or(-1) > b.started_ms.value_or(-1);
    return a.run.name < b.run.name;
  });
  if (!options.json) {
    print_table(rows);
    return exit_ok;
  }
  json all = json::array();
  for (const auto& row : rows) all.push_back(json_of(row));
  std::cout << json_text(all) << std::endl;
  return exit_ok;
}

int events_command(const EventsOptions& options) {
  int unresolved = exit_no_such_run;
  auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
  // From the oldest file rotation kept, and on from where it got to with
  // -f, across the rotations that come meanwhile.
  log_follower events(run->dir / "events.jsonl", false, true);
  // One blank between columns, the kinds' column as wide as the widest kind
  // ("restarting") and the actors' as a short name's, from the first line
  // on: the lines -f prints later line up with the first ones, and with
  // what a later `events` prints, unless a longer name widens a column.
  text_table table(1);
  table.min_widths({0, 10, 13});
  const bool terminal = stdout_is_terminal();
  // Printed a batch at a time: a long history is never all in memory.
  constexpr std::size_t batch = 4096;
  std::size_t pending = 0;
  const auto flush = [&table, &pending] {
    std::cout << table.take();
    std::cout.flush();
    pending = 0;
  };
  const auto print = [&](std::string&& line) {
    const json event = json::parse(line, nullptr, false);
    if (event.is_discarded() || !is_event(event)) {
      flush();  // said where it comes among the events
      say_not_an_event(run->name, line);
      return;
    }
    if (options.json) {
      std::cout << line << '\n';
    } else {
      add_event(table, event, terminal);
    }
    if (++pending == batch) flush();
  };
  events.new_lines(print);
  flush();
  if (!options.follow) return exit_ok;
  for (;;) {
    // Looked at before reading: a run that has ended wrote its last event
    // before, and the read gets it.
    const RunEntry now = refreshed(*run);
    events.new_lines(print);
    flush();
    // A supervisor killed before it recorded the run's end: said, exit 1.
    if (now.state == RunState::died) return report_not_live(now);
    if (now.state != RunState::live) return exit_ok;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace procactor::launcher
