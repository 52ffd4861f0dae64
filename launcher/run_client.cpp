#include "run_client.hpp"

#include <chrono>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "control.hpp"
#include "run_status.hpp"

namespace procactor::launcher {

std::optional<RunEntry> resolve(const std::optional<std::string>& name, int& code) {
  std::string error;
  bool ambiguous = false;
  auto run = find_run(name, error, &ambiguous);
  if (!run) {
    std::cerr << "procactor: " << error << '\n';
    code = ambiguous ? exit_usage : exit_no_such_run;
  }
  return run;
}

RunEntry refreshed(const RunEntry& run) {
  std::string ignored;
  return find_run(run.name, ignored).value_or(run);
}

int report_not_live(const RunEntry& run) {
  if (run.state == RunState::ended) {
    std::cerr << "procactor: run " << run.name << " is not running (it ended with exit code " << run.exit_code
              << ")\n";
    return exit_no_such_run;
  }
  std::cerr << "procactor: run " << run.name << " died: its supervisor"
            << (run.supervisor_pid > 0 ? " (pid " + std::to_string(run.supervisor_pid) + ")" : std::string())
            << " was killed or crashed before it recorded how the run ended; `procactor logs " << run.name
            << "` shows what it printed\n";
  return exit_failure;
}

std::optional<std::string> ask(const RunEntry& run, const ControlRequest& request, int& code) {
  if (run.state != RunState::live) {
    code = report_not_live(run);
    return std::nullopt;
  }
  // A stopped supervisor answers nothing until it is continued: said at
  // once rather than after the socket's time limit.
  if (process_stopped(run.supervisor_pid)) {
    std::cerr << "procactor: run " << run.name << "'s supervisor (pid " << run.supervisor_pid
              << ") is stopped (by SIGSTOP or Ctrl-Z, or held by a debugger), so it cannot answer; `kill -CONT "
              << run.supervisor_pid << "` lets it go on\n";
    code = exit_failure;
    return std::nullopt;
  }
  // What only reads the run gets its answer in a few seconds or none;
  // a stop or a restart may wait on the actors.
  const bool reads = request.verb == ControlRequest::Verb::status || request.verb == ControlRequest::Verb::inspect ||
                     request.verb == ControlRequest::Verb::ping;
  auto reply = control_request(run.dir / "control.sock", to_request_line(request),
                               reads ? std::chrono::seconds(15) : std::chrono::seconds(60));
  // Asked in its last moments: it has ended, and records how in a moment
  // (its socket, and then the process, go after that). Told as for a run
  // that no longer answers: its last table and its exit code.
  const bool ending = reply && *reply == "error: run " + run.name + " has ended";
  if (reply && !ending) return reply;
  RunEntry now = refreshed(run);
  for (int i = 0; ending && i < 200 && now.state == RunState::live && now.exit_code < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = refreshed(run);
  }
  if (now.state == RunState::live && now.exit_code >= 0) {
    // It has closed its socket and recorded how it ended; only the
    // process's own exit is still to come.
    now.state = RunState::ended;
  }
  if (now.state != RunState::live) {
    code = report_not_live(now);
  } else {
    std::cerr << "procactor: run " << run.name << " does not answer on its control socket (supervisor pid "
              << now.supervisor_pid << ")" << (process_stopped(now.supervisor_pid) ? ": it is stopped; `kill -CONT " + std::to_string(now.supervisor_pid) + "` lets it go on" : std::string()) << "\n";
    code = exit_failure;
  }
  return std::nullopt;
}

}  // namespace procactor::launcher
