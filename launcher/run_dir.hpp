// Where runs live: ${XDG_RUNTIME_DIR:-/tmp}/procactor-<uid>/<run>/, a 0700
// directory of the user's, holding each run's control socket and logs.
//
//   <run>/supervisor.lock  flock'ed by the run's supervisor for as long as
//                          it lives: the kernel drops the lock when the
//                          process dies, however it dies, which a pid
//                          cannot tell (pids are reused)
//   <run>/supervisor.pid
//   <run>/control.sock     the supervisor's control channel (Unix socket)
//   <run>/run.log          every line as `launch` printed it
//   <run>/logs/NAME.N.log  one file per actor instance
//   <run>/launch.log       what a --detach'ed supervisor itself printed
//   <run>/exit             the run's exit code, once it has ended
//   <run>/node             on a node of a multi-node run (GRAPH-NODE): the
//                          run it is part of, named on the launching host
//
// A run is live while its lock is held, has ended once it wrote `exit`, and
// died when neither holds (its supervisor was killed). A new run of a name
// moves the previous one aside as NAME.1, NAME.2, ... (higher is newer), so
// its logs stay readable; the newest `kept_runs` of those are kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace procactor::launcher {

inline constexpr int kept_runs = 10;

// The user's runs directory, made 0700 if missing; throws if it exists with
// another owner or looser permissions (someone could read our sockets).
std::filesystem::path runs_root();

enum class RunState : std::uint8_t { live, ended, died };

struct RunEntry {
  std::string name;
  std::filesystem::path dir;
  RunState state = RunState::live;
  int exit_code = -1;        // once recorded: the run has ended, its supervisor may still be exiting
  pid_t supervisor_pid = 0;  // 0 until the supervisor has recorded it
  bool node_of_cluster = false;  // a node's part of a multi-node run: never the default run
};

std::vector<RunEntry> list_runs();

// The run named `name`, whatever its state. Without a name: the only live
// run, or with none live the latest run if it died (a run killed with
// `kill -9` is still news); a node's part of a multi-node run is only ever
// found by its name. nullopt with `error` set: exit code 3.
std::optional<RunEntry> find_run(const std::optional<std::string>& name, std::string& error);

// Makes the directory of a new run of `graph_name` and takes its lock, held
// until this process (and any fork of it) exits. The run is named after
// the graph, or name-2, name-3... while a live run holds the name.
RunEntry create_run(const std::string& graph_name);

// Writes supervisor.pid: the process that holds the run from now on (after
// --detach, the background one).
void record_supervisor(const RunEntry& run);

// Marks a run as one node's part of the multi-node run `whole`.
void record_node_of(const RunEntry& run, const std::string& whole);

}  // namespace procactor::launcher
