// Where runs live: ${XDG_RUNTIME_DIR:-/tmp}/procactor-<uid>/<run>/, a 0700
// directory of the user's, holding each run's control socket and logs.
//
//   <run>/control.sock   the supervisor's control channel (Unix socket)
//   <run>/supervisor.pid
//   <run>/run.log        every line as `launch` printed it
//   <run>/logs/NAME.N.log  one file per actor instance
//   <run>/exit           the run's exit code, once it has ended
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace procactor::launcher {

// The user's runs directory, made 0700 if missing; throws if it exists with
// another owner or looser permissions (someone could read our sockets).
std::filesystem::path runs_root();

struct RunEntry {
  std::string name;
  std::filesystem::path dir;
  bool live = false;  // its control socket answers
};

std::vector<RunEntry> list_runs();

// The run named `name`; without a name, the only live run (an error message
// when there are none or several). nullopt with `error` set: exit code 3.
std::optional<RunEntry> find_run(const std::optional<std::string>& name, std::string& error);

// A fresh directory for a run of `graph_name`: the name itself, or name-2,
// name-3... while a live run holds it. A dead run's directory is replaced.
RunEntry create_run(const std::string& graph_name);

}  // namespace procactor::launcher
