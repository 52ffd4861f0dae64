#include "run_client.hpp"

#include <iostream>

#include "commands.hpp"
#include "control.hpp"

namespace procactor::launcher {

std::optional<RunEntry> resolve(const std::optional<std::string>& name) {
  std::string error;
  auto run = find_run(name, error);
  if (!run) std::cerr << "procactor: " << error << '\n';
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
  auto reply = control_request(run.dir / "control.sock", to_request_line(request));
  if (reply) return reply;
  RunEntry now = refreshed(run);
  if (now.state == RunState::live && now.exit_code >= 0) {
    // It has closed its socket and recorded how it ended; only the
    // process's own exit is still to come.
    now.state = RunState::ended;
  }
  if (now.state != RunState::live) {
    code = report_not_live(now);
  } else {
    std::cerr << "procactor: run " << run.name << " does not answer on its control socket (supervisor pid "
              << now.supervisor_pid << ")\n";
    code = exit_failure;
  }
  return std::nullopt;
}

}  // namespace procactor::launcher
