// Where runs live: a persistent state directory of the user's, 0700,
// holding each run's control socket, logs and records:
// $PROCACTOR_STATE_DIR, else $XDG_STATE_HOME/procactor, else
// $HOME/.local/state/procactor. Persistent, so that what ended, or died
// with the machine, can still be read after a reboot.
//
//   <run>/supervisor.lock  flock'ed by the run's supervisor for as long as
//                          it lives: the kernel drops the lock when the
//                          process dies, however it dies, which a pid
//                          cannot tell (pids are reused)
//   <run>/supervisor.pid
//   <run>/started          when the run was made, ms since the epoch
//   <run>/graph            the graph's name, then the absolute path of its file
//   <run>/control.sock     the supervisor's control channel (Unix socket)
//   <run>/run.log          every line as `launch` printed it, each after
//                          its time (log_writer.hpp)
//   <run>/logs/NAME.N.log  one file per actor instance, lines stamped too;
//                          NAME.N.log.1, .2, .3 once rotated by size
//   <run>/events.jsonl     the run's events, one JSON object a line;
//                          events.jsonl.1, .2, .3 once rotated, as the logs
//   <run>/launch.log       what a --detach'ed supervisor printed until its
//                          run was ready, and its standard error
//   <run>/final_status.json  the run's last `status` answer, written as it ends
//   <run>/final_inspect.json  the run's last `inspect` answer for every
//                          instance (exits, dead letters), written as it ends
//   <run>/exit             the run's exit code, once it has ended (its
//                          mtime: when it ended)
//   <run>/node             on a node of a multi-node run (RUN-NODE): the
//                          run it is part of, named on the launching host
//
// A run is live while its lock is held, has ended once it wrote `exit`, and
// died when neither holds (its supervisor was killed, or the machine went
// down). A new run of a name moves the previous one aside as NAME.1,
// NAME.2, ... (higher is newer), so its logs stay readable; the newest
// `kept_runs` of those are kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace procactor::launcher {

inline constexpr int kept_runs = 10;

// A state directory the launcher cannot use as set (PROCACTOR_STATE_DIR and
// the others below): a setting to change, so a command fails with exit 2,
// as for any other bad setting.
struct setting_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The user's runs directory (the state directory above), made 0700 if
// missing, with its missing parents; throws if it exists with another
// owner or looser permissions (someone could read our sockets and logs).
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
// found by its name. nullopt with `error` set: exit code 3, or with
// `ambiguous` set (several live runs and no name) 2, a usage error.
std::optional<RunEntry> find_run(const std::optional<std::string>& name, std::string& error,
                                 bool* ambiguous = nullptr);

// Makes the directory of a new run of `graph_name` and takes its lock, held
// until this process (and any fork of it) exits. The run is named after
// the graph, or name-2, name-3... while a live run holds the name. Throws,
// naming PROCACTOR_STATE_DIR, when the run's control socket would not fit
// in a Unix socket path (108 bytes).
RunEntry create_run(const std::string& graph_name);

// The run's records below are written whole (under a temporary name, then
// renamed) and are the owner's only (0600), as its logs are.

// Writes supervisor.pid: the process that holds the run from now on (after
// --detach, the background one).
void record_supervisor(const RunEntry& run);

// Marks a run as one node's part of the multi-node run `whole`.
void record_node_of(const RunEntry& run, const std::string& whole);

// Writes `graph`: which graph the run runs, and from which file.
void record_graph(const RunEntry& run, const std::string& graph_name, const std::filesystem::path& file);

// Writes `exit`, the run's exit code: the run has ended (its mtime: when).
// A run record or log line that could not be written (`error`: errno):
// said once per process on stderr, naming the state directory (full, when
// ENOSPC or EDQUOT), and remembered for the run's exit status.
void note_record_failure(const std::filesystem::path& path, int error);
// Whether any record of this process could not be written.
bool records_lost();
// Whether the run's exit code is recorded (`exit`, or its marker).
bool exit_recorded(const RunEntry& run);
void record_exit(const RunEntry& run, int code);

// Writes final_status.json, whole or not at all (a reader never sees half).
void record_final_status(const RunEntry& run, const std::string& status_json);
// The same for final_inspect.json.
void record_final_inspect(const RunEntry& run, const std::string& inspect_json);

// What `ls` and an ended run's `status` read back; each nullopt or empty
// when the run has not written it (a run that died, or one older than the
// record).
std::optional<std::int64_t> started_ms(const RunEntry& run);  // ms since the epoch
std::optional<std::int64_t> ended_ms(const RunEntry& run);    // when `exit` was written
std::optional<std::string> final_status(const RunEntry& run);
// What procactor reads of /proc/PID/stat: the command name, the state, CPU
// time and the start time (clock ticks since boot), which with the pid
// names one process for good. nullopt when there is no such process.
struct proc_stat {
  std::string comm;
  char state = '?';  // R, S, T, t, Z, ...
  double utime_ticks = 0;
  double stime_ticks = 0;
  unsigned long long start_ticks = 0;
};
[[nodiscard]] std::optional<proc_stat> read_proc_stat(int pid);

// Whether process `pid` is stopped by a signal (SIGSTOP, SIGTSTP) or held
// by a tracer: state T or t in /proc/PID/stat.
[[nodiscard]] bool process_stopped(int pid);

// The version of the status object's fields ("schema"): raised when a field
// changes meaning or goes away, not when one is added.
inline constexpr int status_schema = 1;
// What `status --json` says of a run that no longer answers: a died one's
// head with `run_state` "died", `supervisor_pid` and a null `exit_code`;
// any other (ended, or still holding the run as it ends) its last table
// (final_status.json, or only its head where it left none) with `run_state`
// "ended", `exit_code`, `ended` and `ended_ms`.
std::string last_status_json(const RunEntry& run);
std::optional<std::string> final_inspect(const RunEntry& run);
struct GraphRecord {
  std::string name;
  std::filesystem::path file;
};
std::optional<GraphRecord> graph_record(const RunEntry& run);

}  // namespace procactor::launcher
