// `procactor launch` of a graph placed on several nodes: mpirun (or srun) starts one
// `procactor node` per node (an MPMD line, one app context each, in
// [cluster] order, so that rank = node), and this process is the run on
// this host: it prints and logs what the nodes print, serves the run's
// control socket through node 0 (cluster_control.hpp), and passes the
// user's Ctrl-C on as the nodes' stop signals.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster_control.hpp"
#include "commands.hpp"
#include "control.hpp"
#include "dashboard.hpp"
#include "detach.hpp"
#include "graph_checks.hpp"
#include "log_writer.hpp"
#include "run_dir.hpp"
#include "run_status.hpp"
#include "runtime_options.hpp"
#include "stop_signals.hpp"
#include "terminal.hpp"
#include "units.hpp"

namespace procactor::launcher {

// Everything up to launch_cluster() is for a build with the multi-node
// transport; without it, launch_cluster() and run_node() say why not.
#ifdef PROCACTOR_WITH_MPI
namespace {

// A process as it was seen: its pid and its start time, which together
// name one process for good, where a pid alone may be another's by the
// time it is used.
struct seen_process {
  pid_t pid = 0;
  proc_stat stat;
};

std::optional<seen_process> look_at(pid_t pid) {
  if (auto stat = read_proc_stat(pid)) return seen_process{pid, std::move(*stat)};
  return std::nullopt;
}

// The processes `pid` has started that are still its children.
std::vector<seen_process> children_of(pid_t pid) {
  std::vector<seen_process> children;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream list(task.path() / "children");
    for (pid_t child = 0; list >> child;) {
      if (auto seen = look_at(child)) children.push_back(std::move(*seen));
    }
  }
  return children;
}

// The inode of the pipe `fd` is an end of; 0 when it is none.
ino_t pipe_inode(int fd) {
  struct stat pipe_stat {};
  if (fd < 0 || ::fstat(fd, &pipe_stat) != 0 || !S_ISFIFO(pipe_stat.st_mode)) return 0;
  return pipe_stat.st_ino;
}

// The processes, other than this one, that hold an end of the pipe `fd`
// is an end of: what mpirun started inherits its output pipes, and keeps
// them when mpirun is gone (it is then no longer mpirun's child).
std::vector<seen_process> pipe_holders(int fd) {
  const ino_t inode = pipe_inode(fd);
  if (inode == 0) return {};
  const std::string link = "pipe:[" + std::to_string(inode) + "]";
  const pid_t self = ::getpid();
  std::vector<seen_process> holders;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc() || pid == self) continue;
    std::error_code fd_ec;
    for (std::filesystem::directory_iterator fds(it->path() / "fd", fd_ec), fds_end; !fd_ec && fds != fds_end;
         fds.increment(fd_ec)) {
      std::error_code read_ec;
      if (std::filesystem::read_symlink(fds->path(), read_ec).native() != link) continue;
      if (auto seen = look_at(pid)) holders.push_back(std::move(*seen));
      break;
    }
  }
  return holders;
}

// Open MPI notices a lost host through the keepalive of its daemons'
// connections: by default after minutes, with these after about 4 s
// (docs/design.md §7a).
const std::vector<std::string> keepalive = {
    "--mca", "oob_tcp_keepalive_time", "1", "--mca", "oob_tcp_keepalive_intvl", "1",
    "--mca", "oob_tcp_keepalive_probes", "2"};

// Whether mpi_args sets the MCA parameter `name` (`--mca NAME VALUE`,
// `-mca`, `--gmca`), or the environment does (OMPI_MCA_NAME): mpirun
// refuses a parameter given twice, and the user's choice wins.
bool mca_chosen(const std::vector<std::string>& args, const std::string& name) {
  return std::find(args.begin(), args.end(), name) != args.end() ||
         std::getenv(("OMPI_MCA_" + name).c_str()) != nullptr;
}

// The value mpi_args gives the MCA parameter `name`, else the
// environment's, else "".
std::string mca_value(const std::vector<std::string>& args, const std::string& name) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name && i > 0 && args[i - 1].ends_with("mca")) return args[i + 1];
  }
  const char* value = std::getenv(("OMPI_MCA_" + name).c_str());
  return value != nullptr ? value : "";
}

// Where mpirun keeps its session on this host, as Open MPI 4 names it
// (orte/util/session_dir.c): BASE/ompi.NODENAME.UID/pid.MPIRUN_PID, BASE
// from orte_local_tmpdir_base or orte_tmpdir_base, else TMPDIR, TEMP, TMP
// or /tmp. An mpirun that ends well removes it; one killed leaves it, with
// its PMIx stores: removed (remove_mpi_session) once mpirun has ended, and
// so is the directory above it when that leaves it empty, as an mpirun that
// ends well does (one that holds another job's pid.* stays).
std::filesystem::path mpi_session_base(const std::vector<std::string>& args) {
  for (const char* name : {"orte_local_tmpdir_base", "orte_tmpdir_base"}) {
    if (std::string base = mca_value(args, name); !base.empty()) return base;
  }
  for (const char* name : {"TMPDIR", "TEMP", "TMP"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "/tmp";
}

void remove_mpi_session(const std::filesystem::path& base, pid_t mpirun) {
  const std::string suffix = "." + std::to_string(::geteuid());
  std::error_code ec;
  for (std::filesystem::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with("ompi.") || !name.ends_with(suffix)) continue;
    std::error_code ignored;
    if (std::filesystem::remove_all(it->path() / ("pid." + std::to_string(mpirun)), ignored) > 0) {
      std::filesystem::remove(it->path(), ignored);  // rmdir: only when empty
    }
  }
}

// What removes mpirun's session directory when the launch is killed
// (kill -9) and cannot: a shell in a session of its own, reading a pipe
// from the launch. The launch writes "done" once it has removed the
// directory itself; the end of the pipe without it means the launch is
// gone. mpirun then gets SIGTERM (PR_SET_PDEATHSIG) and ends, but Open MPI
// 4.1.4 left its directory (contact.txt, hwloc.sm, PMIx's stores) in 6 of
// 8 such ends: the shell waits for mpirun to end (gone, or a zombie) and
// removes it, and the top directory above it once empty (rmdir fails,
// harmlessly, while another job's is there). Then it gives what mpirun
// started 5 s to end, and kills what still holds mpirun's output pipes (the
// launch's, by inode, as end_what_job_left finds them): a remote shell that
// hangs (Open MPI does not end one), and what it started. It holds nothing
// of the launch's but the pipe.
class session_sweeper {
 public:
  session_sweeper() = default;
  session_sweeper(const session_sweeper&) = delete;
  session_sweeper& operator=(const session_sweeper&) = delete;
  // The pipe closes with this process, without "done".
  ~session_sweeper() {
    if (pipe_ >= 0) ::close(pipe_);
  }

  // False when no shell could be started: the launch still removes the
  // directory itself when it sees mpirun end.
  // `outputs`: the inodes of mpirun's standard output and error pipes.
  bool start(const std::filesystem::path& base, pid_t mpirun, std::array<ino_t, 2> outputs) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return false;
    static const char script[] =
        "IFS= read -r line; [ \"$line\" = done ] && exit 0\n"
        "while kill -0 \"$2\" 2>/dev/null && [ \"$(cut -d' ' -f3 /proc/\"$2\"/stat 2>/dev/null)\" != Z ]; do\n"
        "  sleep 0.05\n"
        "done\n"
        "for top in \"$1\"/ompi.*.\"$3\"; do\n"
        "  [ -d \"$top/pid.$2\" ] || continue\n"
        "  rm -rf -- \"$top/pid.$2\"\n"
        "  rmdir -- \"$top\" 2>/dev/null\n"
        "done\n"
        "out=$4 err=$5\n"
        "[ -n \"$out\" ] || exit 0\n"
        "holders() { find /proc/[0-9]*/fd -maxdepth 1 \\( -lname \"pipe:?$out?\" -o -lname \"pipe:?$err?\" \\) "
        "2>/dev/null | cut -d/ -f3 | sort -u; }\n"
        "n=0\n"
        "while [ $n -lt 50 ] && [ -n \"$(holders)\" ]; do sleep 0.1; n=$((n + 1)); done\n"
        "for p in $(holders); do kill -9 \"$p\" 2>/dev/null; done\n"
        "exit 0\n";
    const std::string base_text = base.string();
    const std::string pid_text = std::to_string(mpirun);
    const std::string uid_text = std::to_string(::geteuid());
    const std::string out_text = outputs[0] != 0 ? std::to_string(outputs[0]) : "";
    const std::string err_text = outputs[1] != 0 ? std::to_string(outputs[1]) : out_text;
    const char* argv[] = {"/bin/sh",
                          "-c",
                          script,
                          "procactor-mpi-sweep",
                          base_text.c_str(),
                          pid_text.c_str(),
                          uid_text.c_str(),
                          out_text.c_str(),
                          err_text.c_str(),
                          nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ends[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own session: a Ctrl-C or a kill of the launch's group is not
    // for it. Default dispositions (this process ignores SIGPIPE), no
    // signal blocked.
    sigset_t set;
    sigemptyset(&set);
    posix_spawnattr_setsigmask(&attr, &set);
    sigfillset(&set);
    posix_spawnattr_setsigdefault(&attr, &set);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int rc = ::posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    ::close(ends[0]);
    if (rc != 0) {
      ::close(ends[1]);
      pid_ = -1;
      return false;
    }
    pipe_ = ends[1];
    return true;
  }

  // The launch removed the directory: the shell ends, and is reaped.
  void done() noexcept {
    if (pipe_ < 0) return;
    (void)!::write(pipe_, "done\n", 5);
    ::close(pipe_);
    pipe_ = -1;
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int pipe_ = -1;
};

// Whether `program` is an executable file in a directory of PATH, as
// execvp would find it.
bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    const std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

// Why the launcher cannot start the nodes: its name and the package.
std::string missing_launcher(const std::string& launcher) {
  return launcher == "srun" ? "launcher = \"srun\" needs Slurm's srun on PATH (Debian: slurm-client)"
                            : "a graph on several nodes needs Open MPI's mpirun on PATH (Debian: openmpi-bin)";
}

// What starts the nodes: its command line, what it adds to the
// environment, and how Ctrl-C reaches the nodes through it.
struct job_command {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  // srun passes a signal on to every process of the step, the actors too:
  // the stop goes to node 0 as a request instead (mpirun signals only the
  // processes it started, the nodes).
  bool stop_by_request = false;
};

// The settings of procactor's own that the launching shell may hold and a
// node reads (README, "Usage: the procactor command"). mpirun gives the
// ranks it starts on this host its own environment, but those on another
// host get the remote shell's (ssh: a login's), plus what `-x` names: each
// one set here is named, so every node runs as the launch was asked to
// (its state directory, its plugin path, ...). srun passes the whole
// environment by itself. In an MPMD line a `-x` holds for its own app
// context only (one before the first holds for the first), so each
// context gets them, and those of mpi_args too.
constexpr std::array node_settings{"PROCACTOR_STATE_DIR", "PROCACTOR_PLUGIN_PATH", "PROCACTOR_LOG_ROTATE_SIZE",
                                   "PROCACTOR_SPAWN",     "PROCACTOR_EVICT_READ",  "PROCACTOR_FULL_FENCES"};

job_command mpirun_line(const Graph& graph, const std::filesystem::path& self, const std::filesystem::path& file,
                        const std::string& run_name) {
  std::vector<std::string> line = {"mpirun"};
  // mpirun refuses root without this; `procactor launch` as root means it.
  if (::geteuid() == 0) line.emplace_back("--allow-run-as-root");
  // Bound to a core each, two node supervisors on one host would share it
  // (and every actor they start); one rank per host needs no slot count.
  for (const char* arg : {"--bind-to", "none", "--oversubscribe"}) line.emplace_back(arg);
  // A setting of ours that mpi_args sets too is left to mpi_args: mpirun
  // refuses an MCA parameter given twice.
  const auto& args = graph.cluster->mpi_args;
  for (std::size_t i = 0; i + 2 < keepalive.size(); i += 3) {
    if (!mca_chosen(args, keepalive[i + 1])) {
      line.insert(line.end(), keepalive.begin() + static_cast<std::ptrdiff_t>(i),
                  keepalive.begin() + static_cast<std::ptrdiff_t>(i + 3));
    }
  }
  // Open MPI's shared-memory transport (vader) only joins ranks on one
  // host, and a node is a host; each rank still makes its segment in
  // /dev/shm, which a killed job leaves there.
  if (!mca_chosen(args, "btl")) line.insert(line.end(), {"--mca", "btl", "^vader"});
  // And each rank's MPI_Init tries POSIX shared memory: it makes
  // /dev/shm/open_mpi.NNNN and removes it at once, so a node killed in its
  // start-up left it. The mmap component keeps its files in the session
  // directory, which the launch removes.
  if (!mca_chosen(args, "shmem")) line.insert(line.end(), {"--mca", "shmem", "mmap"});
  line.insert(line.end(), args.begin(), args.end());
  std::vector<std::string> exported;  // -x NAME, -x NAME=VALUE, ...: every app context's
  for (const char* name : node_settings) {
    if (std::getenv(name) != nullptr) exported.insert(exported.end(), {"-x", name});
  }
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-x") exported.insert(exported.end(), {"-x", args[++i]});
  }
  for (std::size_t i = 0; i < graph.cluster->nodes.size(); ++i) {
    const NodeSpec& node = graph.cluster->nodes[i];
    if (i != 0) line.emplace_back(":");
    line.insert(line.end(), {"-np", "1"});
    line.insert(line.end(), exported.begin(), exported.end());
    for (const std::string& arg : {std::string("--host"), node.host, self.string(), std::string("node"),
                                   std::string("--node"), node.name, file.string(), std::string("--auto-replicas"),
                                   std::to_string(auto_replicas()), std::string("--run"), run_name}) {
      line.push_back(arg);
    }
  }
  return {line, {}, false};
}

// One task per node under Slurm: task i (MPI rank i) is node i, on node
// i's host. srun's arbitrary distribution puts task i on line i of
// SLURM_HOSTFILE, and --multi-prog gives each task its command line; both
// files go in the run's directory. Its standard input to task 0 only, and
// a node that fails (a non-zero exit, a signal) ends the step.
job_command srun_line(const Graph& graph, const std::filesystem::path& self, const std::filesystem::path& file,
                      const std::filesystem::path& run_dir, const std::string& run_name) {
  // --multi-prog splits its lines at blanks and expands %t and %o.
  for (const auto& path : {self, file}) {
    if (path.string().find_first_of(" \t%") != std::string::npos) {
      throw std::runtime_error("srun's --multi-prog file cannot hold the path '" + path.string() +
                               "' (a blank or a '%' in it): move it, or use launcher = \"mpirun\"");
    }
  }
  const auto& nodes = graph.cluster->nodes;
  const std::filesystem::path hosts = run_dir / "srun.hosts";
  const std::filesystem::path programs = run_dir / "srun.multi-prog";
  std::ofstream host_file(hosts);
  std::ofstream program_file(programs);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    host_file << nodes[i].host << '\n';
    program_file << i << ' ' << self.string() << " node --node " << nodes[i].name << ' ' << file.string()
                 << " --auto-replicas " << auto_replicas() << " --run " << run_name << '\n';
  }
  if (!host_file.flush() || !program_file.flush()) {
    throw std::runtime_error("cannot write " + hosts.string() + " and " + programs.string());
  }
  std::vector<std::string> line = {"srun", "--ntasks=" + std::to_string(nodes.size()), "--distribution=arbitrary",
                                   "--input=0", "--kill-on-bad-exit=1"};
  // Debian's Open MPI starts under srun through PMIx; mpi_args may choose.
  const auto& args = graph.cluster->mpi_args;
  const bool chosen = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
    return arg.starts_with("--mpi");
  });
  if (!chosen) line.emplace_back("--mpi=pmix");
  // The nodes need the launching shell's PROCACTOR_* settings (its state
  // directory, plugin path, ...). srun exports the whole environment unless
  // told otherwise, and `sbatch --export=NONE` tells every step of its job
  // otherwise, through SLURM_EXPORT_ENV: an --export of mpi_args decides.
  const bool exporting =
      std::any_of(args.begin(), args.end(), [](const std::string& arg) { return arg.starts_with("--export"); });
  if (!exporting) line.emplace_back("--export=ALL");
  line.insert(line.end(), args.begin(), args.end());
  line.emplace_back("--multi-prog");
  line.push_back(programs.string());
  job_command job{line, {{"SLURM_HOSTFILE", hosts.string()}}, true};
  if (std::getenv("OMPI_MCA_btl") == nullptr) job.env.emplace_back("OMPI_MCA_btl", "^vader");  // as mpirun_line
  if (std::getenv("OMPI_MCA_shmem") == nullptr) job.env.emplace_back("OMPI_MCA_shmem", "mmap");
  return job;
}

}  // namespace

namespace {

// The launching process of a multi-node run: mpirun's (or srun's) parent, its
// standard streams' other end, and the run's supervisor as `status` and
// `logs` see it (cluster_control.hpp).
class cluster_launch {
 public:
  cluster_launch(const Graph& graph, const LaunchOptions& options, RunEntry run)
      : graph_(graph),
        run_(std::move(run)),
        colour_(options.color && colour_for(STDOUT_FILENO)),
        run_log_(run_.dir / "run.log", log_rotate_bytes()),
        event_log_(run_.dir / "events.jsonl", log_rotate_bytes()) {
    record_graph(run_, graph_.name, options.file);
    for (std::size_t a = 0; a < graph_.actors.size(); ++a) {
      for (std::uint32_t r = 0; r < graph_.actors[a].replicas; ++r) {
        const std::string name = instance_name(graph_.actors[a], r);
        actor_of_[name] = a;
        create_log_file(log_path(name));  // `logs RUN NAME.N` works for a silent one
      }
    }
  }
  cluster_launch(const cluster_launch&) = delete;
  cluster_launch& operator=(const cluster_launch&) = delete;

  int run(const job_command& job) {
    started_ = steady::now();
    stop_by_request_ = job.stop_by_request;
    job_name_ = job.argv.front();
    if (!start_job(job)) return finish(exit_failure);
    // The socket stays open until the run's end is recorded: an ask in
    // between hears that the run has ended and waits for the record
    // (run_client.cpp), where a closed socket made it say that the run
    // does not answer.
    ControlServer server(run_.dir / "control.sock", [this](const ControlRequest& request) { return control(request); });
    const int code = relay_until_exit();
    {
      std::lock_guard guard(pending_mutex_);
      ended_ = true;
    }
    replied_.notify_all();
    return finish(code);
  }

 private:
  using steady = std::chrono::steady_clock;
  static constexpr std::chrono::seconds reply_deadline{10};
  // How long the job may outlive a node's final status, and a SIGTERM
  // (relay_until_exit).
  static constexpr std::chrono::seconds job_end_grace{10};
  static constexpr std::chrono::seconds kill_grace{5};
  // When the launch says which nodes it is still waiting for.
  static constexpr std::chrono::seconds start_note_after{5};

  [[nodiscard]] std::filesystem::path log_path(const std::string& name) const {
    return run_.dir / "logs" / (name + ".log");
  }

  bool start_job(const job_command& job) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      say_error(std::string("pipe: ") + std::strerror(errno));
      return false;
    }
    const pid_t parent = ::getpid();
    job_ = ::fork();
    if (job_ < 0) {
      say_error(std::string("fork: ") + std::strerror(errno));
      return false;
    }
    if (job_ == 0) {
      // Its own process group: the terminal's Ctrl-C reaches this process
      // only, which passes it on in order. Gone with this process.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
      // Ignored, as in this process: when this process is killed, mpirun
      // (SIGTERM, above) ends its job and removes its session directory.
      // With the default, its first write into these pipes, whose reader
      // is gone, killed it halfway and left the directory.
      ::signal(SIGPIPE, SIG_IGN);
      for (const auto& [name, value] : job.env) ::setenv(name.c_str(), value.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& arg : job.argv) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      const std::string why = "procactor: error: cannot run " + job.argv[0] + " (" + std::strerror(errno) +
                              "): " + missing_launcher(job.argv[0]) + "\n";
      (void)!::write(STDERR_FILENO, why.data(), why.size());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (job_name_ == "mpirun") {
      (void)sweeper_.start(mpi_session_base(graph_.cluster->mpi_args), job_, {pipe_inode(out[0]), pipe_inode(err[0])});
    }
    to_job_ = in[1];
    ::fcntl(to_job_, F_SETFL, O_NONBLOCK);
    streams_[0].fd = out[0];
    streams_[1].fd = err[0];
    return true;
  }

  // mpirun's (or srun's) standard output and error, line by line, until it
  // has exited; Ctrl-C meanwhile: the first asks every node to stop in
  // order (SIGUSR1, which mpirun passes on; srun: a request), the second to
  // stop now (SIGUSR2; srun: a request), a third ends the job (SIGTERM to
  // mpirun or srun), a fourth kills it (SIGKILL to its process group).
  // Returns the run's exit code.
  //
  // The job is not trusted to end: an mpirun that is still there
  // job_end_grace after a node sent its final status (every node ends at
  // about the same time, and a node that lost the others has ended the job
  // for Open MPI to tear down) is sent SIGTERM, and one that is still there
  // kill_grace after a SIGTERM, the third Ctrl-C's too, is killed; so is
  // one stopped for job_end_grace (end_stopped_job), which relays no final
  // status. An mpirun that never exits (a stopped one; an mpiexec that
  // crashed in its own abort was seen still there a minute later,
  // docs/design.md §7a) would otherwise keep this process, and the nodes it
  // still holds, for good. Its nodes end once it is gone: their link to it
  // fails.
  int relay_until_exit() {
    int asked = 0;
    for (;;) {
      tell_held_stops();
      if (job_signalled_ == 0) watch_start();
      if (job_signalled_ == 0) end_stopped_job();
      if (end_job_at_ && steady::now() >= *end_job_at_) escalate(false);
      siginfo_t ended{};
      if (::waitid(P_PID, static_cast<id_t>(job_), &ended, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          ended.si_pid == job_) {
        // Not reaped yet, so its pid is no other process's.
        if (job_name_ == "mpirun") {
          remove_mpi_session(mpi_session_base(graph_.cluster->mpi_args), job_);
          sweeper_.done();
        }
        int status = 0;
        ::waitpid(job_, &status, 0);
        end_what_job_left();
        // What it wrote last is still in the pipes (anything that outlives
        // it, an ssh of its, may hold them open: read what is there).
        for (auto& s : streams_) {
          if (s.fd >= 0) ::fcntl(s.fd, F_SETFL, O_NONBLOCK);
          while (s.fd >= 0 && read_some(s)) {
          }
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return exit_ok;
        explain_job_end(WIFEXITED(status) ? " exited with status " + std::to_string(WEXITSTATUS(status))
                                          : " ended by signal " + std::to_string(WTERMSIG(status)));
        return exit_failure;
      }
      pollfd fds[3] = {{streams_[0].fd, POLLIN, 0}, {streams_[1].fd, POLLIN, 0}, {stop_signal_fd(), POLLIN, 0}};
      int timeout_ms = 100;
      if (end_job_at_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*end_job_at_ - steady::now()).count();
        timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, timeout_ms));
      }
      if (::poll(fds, 3, timeout_ms) <= 0) continue;
      for (std::size_t i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP)) != 0) (void)read_some(streams_[i]);
      }
      if ((fds[2].revents & POLLIN) != 0) {
        char sig = 0;
        (void)!::read(stop_signal_fd(), &sig, 1);
        ++asked;
        if (asked >= 3) {
          escalate(true);
          continue;
        }
        {
          std::lock_guard guard(pending_mutex_);
          stopping_ = true;  // restarts nothing (control())
        }
        if (!ready_told_) {
          // A node that has not set up its signals yet would die of
          // SIGUSR1, one not started yet would never get it: the first
          // stop waits until every node has said it is ready (until the
          // start deadline at most: watch_start). The second cannot stop
          // in order what has not started: it ends the job.
          if (asked == 1) {
            held_stop_ = true;
            say("interrupted: the graph stops on every node once all have started (again to force)");
          } else if (job_signalled_ == 0) {
            end_job("stopping now before every node has started (not ready: " + unready_nodes() + ")", true);
          }
          continue;
        }
        say(asked == 1 ? "interrupted: stopping the graph on every node (again to force)"
                       : "stopping now on every node");
        ask_nodes_to_stop(asked == 2);
      }
    }
  }

  // The line that says how the job failed, `how` ("exited with status 1"):
  // with the nodes that never said they were ready (the job could not
  // start them: mpirun's or ssh's messages above say why), or else those
  // that ended without their final table (one died, or lost the others).
  // mpirun's word on the rank whose end ended the job: "mpirun noticed that
  // process rank 0 with PID 0 on node vm exited on signal 9 (Killed)."
  void note_failed_rank(std::string_view line) {
    constexpr std::string_view mark = "mpirun noticed that process rank ";
    const std::size_t how = line.find(" exited ");
    if (!line.starts_with(mark) || how == std::string_view::npos || failed_rank_) return;
    std::size_t rank = 0;
    const char* digits = line.data() + mark.size();
    if (std::from_chars(digits, line.data() + line.size(), rank).ec != std::errc()) return;
    std::string_view what = line.substr(how + 1);
    if (what.ends_with('.')) what.remove_suffix(1);
    failed_rank_ = rank;
    failed_how_ = std::string(what);
  }

  void explain_job_end(const std::string& how) {
    const auto& nodes = graph_.cluster->nodes;
    // Which node it was, when mpirun said: the others were ended for it,
    // and node 0's end also kept the others' last status from this host.
    if (failed_rank_ && *failed_rank_ < nodes.size()) {
      const NodeSpec& failed = nodes[*failed_rank_];
      say("node " + failed.name + " (host " + failed.host + ") " + failed_how_ + ", says " + job_name_ +
          (*failed_rank_ == 0 && nodes.size() > 1 ? "; the other nodes' last status reaches this host through it"
                                                  : ""));
    }
    const std::string missing =
        ready_told_ ? nodes_but([&](std::size_t n) { return finals_.count(n) != 0; }) : unready_nodes();
    std::string text = job_name_ + how;
    if (!missing.empty()) {
      text += ready_told_ ? "; no last status from " + missing + ": lost, or killed"
                          : " before every node was ready; not ready: " + missing + " (the messages above say why)";
    }
    say(text);
  }

  // The first Ctrl-C's stop in order on every node, or with `now` the
  // second's.
  void ask_nodes_to_stop(bool now) {
    if (stop_by_request_) {
      // As `procactor stop` would ask node 0, without waiting for its
      // reply (number 0 is nobody's): now is a stop within no time.
      ControlRequest stop;
      stop.verb = ControlRequest::Verb::stop;
      if (now) stop.stop_timeout = std::chrono::nanoseconds(0);
      (void)write_to_job(relay::request_line(0, 0, stop) + '\n');
    } else {
      ::kill(job_, now ? SIGUSR2 : SIGUSR1);
    }
  }

  // The next step of ending the job, for a Ctrl-C (`asked`) or because
  // end_job_at_ has come: SIGTERM to mpirun or srun, then SIGKILL to its
  // process group, which holds it and whatever else is in its group, not
  // the nodes: Open MPI puts those in groups of their own.
  void escalate(bool asked) {
    if (job_signalled_ == 0) {
      say(asked ? std::string("ending the MPI job (again to kill it)")
                : job_name_ + " has not ended " + std::to_string(job_end_grace.count()) + " s after node " +
                      graph_.cluster->nodes[first_final_].name + " finished: ending the MPI job");
      ::kill(job_, SIGTERM);
      job_signalled_ = SIGTERM;
      end_job_at_ = steady::now() + kill_grace;
    } else if (job_signalled_ == SIGTERM) {
      say(asked ? "killing the MPI job"
                : job_name_ + " has not ended " + std::to_string(kill_grace.count()) + " s after SIGTERM: killing it");
      ::kill(-job_, SIGKILL);
      ::kill(job_, SIGKILL);
      job_signalled_ = SIGKILL;
      end_job_at_.reset();
    }
  }

  // The first step of escalate(), taken for `why`: SIGTERM to mpirun or
  // srun (continued, should it be stopped), SIGKILL kill_grace later.
  // `by_ctrl_c`: a Ctrl-C asked it, and a third kills the job (escalate);
  // the hint is not given where no Ctrl-C was pressed (start_timeout, a
  // `procactor stop`, a detached run).
  void end_job(const std::string& why, bool by_ctrl_c = false) {
    say(why + ": ending the MPI job" + (by_ctrl_c ? " (Ctrl-C again to kill it)" : ""));
    if (node_failure_.empty()) node_failure_ = why;
    job_children_ = children_of(job_);
    ::kill(job_, SIGTERM);
    ::kill(job_, SIGCONT);
    job_signalled_ = SIGTERM;
    end_job_at_ = steady::now() + kill_grace;
  }

  // mpirun ended before its start-up was done leaves what it started to
  // reach a host running: Open MPI puts each remote shell (ssh, or
  // plm_rsh_agent) in a process group of its own and does not end one
  // that hangs. Once this process has ended the job, what is left of it is
  // killed, and said: the children mpirun had when end_job() ended it that
  // are still the same processes, and any process that still holds
  // mpirun's output pipes. The pipes find those mpirun started after
  // end_job() looked (it may fork a remote shell before it acts on the
  // SIGTERM), and what a remote shell started in turn, neither of which is
  // a child of mpirun's then.
  void end_what_job_left() {
    std::vector<seen_process> left = std::exchange(job_children_, {});
    if (job_signalled_ != 0) {
      for (const auto& output : streams_) {
        for (seen_process& holder : pipe_holders(output.fd)) {
          const bool known = std::any_of(left.begin(), left.end(), [&](const seen_process& seen) {
            return seen.pid == holder.pid && seen.stat.start_ticks == holder.stat.start_ticks;
          });
          if (!known) left.push_back(std::move(holder));
        }
      }
    }
    for (const seen_process& child : left) {
      const auto now = look_at(child.pid);
      // Gone, another process by now, or dead (mpirun may not have reaped it).
      if (!now || now->stat.start_ticks != child.stat.start_ticks || now->stat.state == 'Z') continue;
      if (::kill(child.pid, SIGKILL) != 0) continue;
      say(job_name_ + " left " + child.stat.comm + " (pid " + std::to_string(child.pid) +
          "), which it had started, running: killed");
    }
  }

  // "node n1 (host beta)", "nodes n1 (host beta), n2 (host gamma)": the
  // nodes for which `skip` is false, "" when none.
  template <class Skip>
  [[nodiscard]] std::string nodes_but(Skip skip) const {
    const auto& nodes = graph_.cluster->nodes;
    std::string list;
    std::size_t count = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (skip(n)) continue;
      list += (count++ == 0 ? "" : ", ") + nodes[n].name + " (host " + nodes[n].host + ")";
    }
    if (count == 0) return {};
    return (count > 1 ? "nodes " : "node ") + list;
  }
  // Those that have not said they are ready (ready_nodes_ is this thread's;
  // control() reads it under pending_mutex_, which its writer holds).
  [[nodiscard]] std::string unready_nodes() const {
    return nodes_but([&](std::size_t n) { return ready_nodes_.count(n) != 0; });
  }

  [[nodiscard]] std::string since_launch() const {
    char text[64];
    std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(steady::now() - started_).count());
    return text;
  }

  // Start-up has a deadline. A node may never say it is ready: its host
  // does not answer, or a node supervisor is stopped (SIGSTOP) inside
  // MPI's start-up, where the others wait for it and no heartbeat runs
  // yet. Past [cluster] start_timeout the job is ended and the run fails
  // naming the nodes that were not ready; so does a stop held until they
  // are (a Ctrl-C, `procactor stop`), which then ends with it. The launch
  // says whom it waits for once start_note_after has gone by.
  void watch_start() {
    if (ready_told_) return;
    const auto now = steady::now();
    const ClusterSpec& cluster = *graph_.cluster;
    const std::string timeout = graph_.duration_text("cluster.start_timeout", cluster.start_timeout);
    if (!start_noted_ && now - started_ >= start_note_after && cluster.start_timeout > start_note_after) {
      start_noted_ = true;
      say("waiting for " + unready_nodes() + " to start (" + since_launch() + " after the launch; the run ends if " +
          "not every node is ready within start_timeout, " + timeout + ")");
    }
    if (now - started_ >= cluster.start_timeout) {
      end_job(unready_nodes() + " not ready " + since_launch() + " after the launch (start_timeout in [cluster] is " +
              timeout + ")");
    }
  }

  // A stopped mpirun (SIGSTOP, a debugger) passes nothing on, not even the
  // nodes' final statuses that start end_job_at_: one stopped for
  // job_end_grace on end is ended as one that does not end, and continued
  // so that it takes its SIGTERM and ends its job (escalate() kills it
  // kill_grace later if not). Looked at a few times a second.
  void end_stopped_job() {
    const auto now = steady::now();
    if (now < next_stop_check_) return;
    next_stop_check_ = now + std::chrono::milliseconds(250);
    if (!process_stopped(job_)) {
      stopped_since_.reset();
      return;
    }
    if (!stopped_since_) stopped_since_ = now;
    if (now - *stopped_since_ < job_end_grace) return;
    say(job_name_ + " has been stopped for " + std::to_string(job_end_grace.count()) + " s: ending the MPI job");
    ::kill(job_, SIGTERM);
    ::kill(job_, SIGCONT);
    job_signalled_ = SIGTERM;
    end_job_at_ = now + kill_grace;
  }

  struct stream {
    int fd = -1;
    std::string pending;
  };

  // One read: false at the end of the stream (or nothing there, once
  // non-blocking).
  bool read_some(stream& s) {
    // On the heap: a small RLIMIT_STACK (`ulimit -s 64`) is every thread's stack size.
    constexpr std::size_t buffer_size = 65536;
    const auto buffer_memory = std::make_unique_for_overwrite<char[]>(buffer_size);
    char* const buffer = buffer_memory.get();
    const ssize_t n = ::read(s.fd, buffer, buffer_size);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) {
      if (n == 0) {
        if (!s.pending.empty()) line_from(s, s.pending);
        s.pending.clear();
        ::close(s.fd);
        s.fd = -1;
      }
      return false;
    }
    s.pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t begin = 0;
    for (std::size_t end; (end = s.pending.find('\n', begin)) != std::string::npos; begin = end + 1) {
      line_from(s, std::string_view(s.pending).substr(begin, end - begin));
    }
    s.pending.erase(0, begin);
    return true;
  }

  void line_from(const stream& s, std::string_view line) {
    if (&s == &streams_[1]) {
      // mpirun says so for each Ctrl-C this process passes on to the
      // nodes (SIGUSR1, SIGUSR2), then prints an empty line: the launch
      // says what the signal does, so the run's log alone keeps them.
      note_failed_rank(line);
      const bool forwarding = line.starts_with("mpirun: Forwarding signal ") && line.ends_with(" to job");
      const bool after_forwarding = std::exchange(forwarded_, forwarding) && line.empty();
      if (!forwarding && !after_forwarding) std::cerr << line << std::endl;
      run_log_.stamped(line);
      return;
    }
    if (line.starts_with(relay::frame_mark)) {
      if (auto f = relay::parse_frame(line)) on_frame(std::move(*f));
      return;
    }
    output(line);
  }

  // A line as a one-host launch prints it; an actor's also goes to its log.
  void output(std::string_view line) {
    const std::size_t bar = line.find(" | ");
    const std::string_view who = line.substr(0, bar);
    const auto actor = bar == std::string_view::npos ? actor_of_.end() : actor_of_.find(who);
    if (actor != actor_of_.end()) {
      auto& log = logs_[actor->first];
      if (!log) log = std::make_unique<log_writer>(log_path(actor->first), log_rotate_bytes());
      log->stamped(line.substr(bar + 3));
    }
    if (colour_ && bar != std::string_view::npos) {
      const std::string_view text = line.substr(bar + 3);
      std::cout << coloured_line(who, terminal_ ? terminal_safe(text) : std::string(text), actor == actor_of_.end(),
                                 actor == actor_of_.end() ? 0 : actor->second)
                << std::endl;
    } else {
      std::cout << (terminal_ ? terminal_safe(line) : std::string(line)) << std::endl;
    }
    run_log_.stamped(line);
  }

  void say(const std::string& text) { output("procactor | " + text); }
  void say_error(const std::string& text) {
    std::cerr << "procactor: error: " << text << std::endl;
    run_log_.stamped("procactor: error: " + text);
  }

  // The run's own events (each node's actors' come as event frames, and are
  // in the node's run, RUN-NODE, on its host too).
  void record_event(const std::string& kind, const std::string& detail) {
    event_log_.plain(event_json({wall_clock::now(), kind, "", 0, detail, {}}));
  }

  void on_frame(relay::frame f) {
    if (f.kind == relay::frame::Kind::event) {
      // A node's actor's event, into the run's own log with its node; one
      // that is not an event is dropped, as a broken frame is.
      if (f.node >= graph_.cluster->nodes.size()) return;  // no node of this run
      if (auto line = event_on_node(f.text, graph_.cluster->nodes[f.node].name)) event_log_.plain(*line);
      return;
    }
    if (f.kind == relay::frame::Kind::final_inspect) {
      if (f.node >= graph_.cluster->nodes.size()) return;  // no node of this run
      std::lock_guard guard(pending_mutex_);
      inspected_[f.node] = std::move(f.text);
      return;
    }
    if (f.kind == relay::frame::Kind::final_status) {
      if (f.node >= graph_.cluster->nodes.size()) return;  // no node of this run
      if (finals_.empty() && job_signalled_ == 0) {
        first_final_ = f.node;
        end_job_at_ = steady::now() + job_end_grace;
      }
      // A node that failed of its own accord (its supervision gave up, its
      // link failed) says why: the first one is the run's reason (finish()).
      if (node_failure_.empty()) {
        const auto status = nlohmann::json::parse(f.text, nullptr, false);
        if (status.is_object() && status.contains("failure") && status["failure"].is_string()) {
          node_failure_ = "node " + graph_.cluster->nodes[f.node].name + ": " + status["failure"].get<std::string>();
        }
      }
      {
        // Read by control(), on the control socket's thread: a status asked
        // from now on has this node's last word rather than its silence.
        std::lock_guard guard(pending_mutex_);
        finals_[f.node] = std::move(f.text);
      }
      replied_.notify_all();
      return;
    }
    if (f.kind == relay::frame::Kind::ready) {
      if (f.node >= graph_.cluster->nodes.size()) return;  // no node of this run
      {
        std::lock_guard guard(pending_mutex_);
        ready_nodes_[f.node] = f.count;
      }
      // Not once the job is being ended: a node continued to take its
      // SIGTERM may say it is ready, but the run is not.
      if (ready_nodes_.size() != graph_.cluster->nodes.size() || ready_told_ || job_signalled_ != 0) return;
      ready_told_ = true;
      std::vector<ControlRequest> asked;
      {
        std::lock_guard guard(pending_mutex_);
        nodes_ready_ = true;
        asked.swap(held_stops_);
      }
      replied_.notify_all();  // a request that waits for the nodes to be ready (control())
      std::size_t count = 0;
      for (const auto& [node, n] : ready_nodes_) count += n;
      const auto ms = std::chrono::duration<double, std::milli>(steady::now() - started_).count();
      char text[64];
      std::snprintf(text, sizeof text, "%.1f ms", ms);
      say(format_count(count, "actor") + " ready on " + format_count(ready_nodes_.size(), "node") + " in " + text);
      record_event("ready", format_count(count, "actor") + " ready on " + format_count(ready_nodes_.size(), "node") +
                                " in " + text);
      tell_foreground_ready();
      if (!asked.empty()) {
        say("stop requested: stopping the graph on every node");
        // As ask_nodes_to_stop: node 0 spreads it; its reply is nobody's.
        for (const ControlRequest& stop : asked) (void)write_to_job(relay::request_line(0, 0, stop) + '\n');
      }
      if (held_stop_) {
        say("stopping the graph on every node");
        ask_nodes_to_stop(false);
      }
      return;
    }
    {
      std::lock_guard guard(pending_mutex_);
      auto it = pending_.find(f.id);
      if (it == pending_.end()) return;  // too late: its client was answered without it
      it->second[f.node] = std::move(f.text);
    }
    replied_.notify_all();
  }

  // A request on the control socket (its thread): passed to the nodes that
  // can answer it, their replies merged.
  std::string control(const ControlRequest& request) {
    std::string error;
    const std::vector<std::size_t> nodes = relay::nodes_for(graph_, request, error);
    if (!error.empty()) return "error: " + error + " in run " + run_.name;
    const std::string has_ended = "error: run " + run_.name + " has ended";
    if (request.verb == ControlRequest::Verb::stop) {
      std::lock_guard guard(pending_mutex_);
      if (ended_) return has_ended;
      stopping_ = true;
      // Node 0 would stop at once with nothing started, and a node not
      // started yet would never hear of it: held as a Ctrl-C is, and sent
      // once every node is ready (on_frame). Taken, as a running run takes
      // it: the client waits for the run's end.
      if (!nodes_ready_) {
        held_stops_.push_back(request);
        return "ok";
      }
    }
    std::uint64_t id = 0;
    {
      // Node 0 carries every request, and takes none before every node is
      // ready: a request then waits for that, and hears why not in the end.
      std::unique_lock lock(pending_mutex_);
      if (!nodes_ready_ && !ended_) {
        // Until the start deadline at most, when the answer is known.
        const auto until = std::min(steady::now() + reply_deadline, started_ + graph_.cluster->start_timeout);
        replied_.wait_until(lock, until, [&] { return nodes_ready_ || ended_; });
        if (!nodes_ready_ && !ended_) {
          return "error: run " + run_.name + " has not started on every node yet (not ready: " + unready_nodes() +
                 ", " + since_launch() + " after the launch; the run ends if they are not ready within " +
                 graph_.duration_text("cluster.start_timeout", graph_.cluster->start_timeout) + ")";
        }
      }
      if (ended_) return has_ended;
      // As on one host: a restart now would start again what the stop is
      // ending (and a node that has ended its part answers nothing).
      if (request.verb == ControlRequest::Verb::restart && stopping_) {
        return "error: run " + run_.name + " is stopping: it restarts nothing now";
      }
      id = ++last_id_;
      pending_[id];
    }
    std::string lines;
    for (std::size_t node : nodes) lines += relay::request_line(id, node, request) + '\n';
    const bool sent = write_to_job(lines);
    std::unique_lock lock(pending_mutex_);
    // A node that has sent its last status (its part of the run has
    // ended) answers nothing more: for a status, that last status is its
    // answer. Anything else hears that the run has ended, as from a
    // one-host run in its last moments (the client then waits for its
    // record, run_client.cpp), once that node or node 0, which carries
    // every request, has ended, or mpirun has.
    const bool lasts_answer = request.verb == ControlRequest::Verb::status;
    const auto answer_of = [&](std::size_t node) -> std::optional<std::string> {
      if (auto it = pending_[id].find(node); it != pending_[id].end()) return it->second;
      if (lasts_answer) {
        if (auto it = finals_.find(node); it != finals_.end()) return it->second;
        return std::nullopt;
      }
      if (ended_ || finals_.count(node) != 0 || finals_.count(0) != 0) return has_ended;
      return std::nullopt;
    };
    const auto all_answered = [&] {
      return std::all_of(nodes.begin(), nodes.end(), [&](std::size_t node) { return answer_of(node).has_value(); });
    };
    if (sent) replied_.wait_for(lock, reply_deadline, [&] { return ended_ || all_answered(); });
    std::vector<relay::node_reply> replies;
    for (std::size_t node : nodes) replies.push_back({node, answer_of(node)});
    if (lasts_answer) stand_in_for_silent(replies);
    pending_.erase(id);
    lock.unlock();
    if (!sent &&
        !std::all_of(replies.begin(), replies.end(), [](const relay::node_reply& r) { return r.text.has_value(); })) {
      return "error: the nodes of run " + run_.name + " cannot be reached (" + job_name_ + " has ended)";
    }
    return relay::merge_replies(graph_, run_.name, request, replies);
  }

  // A status's replies, pending_mutex_ held: each node's table is kept as
  // its last, and a node that gave none now (lost, or slow) is shown by the
  // last it gave, as stale: its instances keep the counts they had, where
  // another node's view of them has none.
  void stand_in_for_silent(std::vector<relay::node_reply>& replies) {
    for (relay::node_reply& reply : replies) {
      if (reply.text && reply.text->starts_with('{')) {
        last_tables_[reply.node] = *reply.text;
      } else if (auto it = last_tables_.find(reply.node); !reply.text && it != last_tables_.end()) {
        reply.text = it->second;
        reply.stale = true;
      }
    }
  }

  // Says once that a stop asked through the control socket waits for the
  // nodes, as a held Ctrl-C does. A stop with no time to stop in
  // (`procactor stop --timeout 0`) cannot wait for them: it ends the job,
  // as a second Ctrl-C does then.
  void tell_held_stops() {
    if (held_stops_told_ && job_signalled_ != 0) return;
    bool now = false;
    {
      std::lock_guard guard(pending_mutex_);
      if (held_stops_.empty()) return;
      now = std::any_of(held_stops_.begin(), held_stops_.end(),
                        [](const ControlRequest& r) { return r.stop_timeout && r.stop_timeout->count() == 0; });
    }
    if (!std::exchange(held_stops_told_, true)) {
      say("stop requested: the graph stops on every node once all have started");
    }
    if (now && !ready_told_ && job_signalled_ == 0) {
      end_job("stop now requested before every node has started (not ready: " + unready_nodes() + ")");
    }
  }

  bool write_to_job(const std::string& bytes) {
    std::lock_guard guard(write_mutex_);
    std::size_t done = 0;
    const auto deadline = steady::now() + std::chrono::seconds(5);
    while (done < bytes.size()) {
      const ssize_t n = ::write(to_job_, bytes.data() + done, bytes.size() - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) return false;
      if (steady::now() >= deadline) return false;
      pollfd fd{to_job_, POLLOUT, 0};
      (void)::poll(&fd, 1, 100);
    }
    return true;
  }

  int finish(int code) {
    const auto seconds = std::chrono::duration<double>(steady::now() - started_).count();
    char text[64];
    std::snprintf(text, sizeof text, "%.2f s", seconds);
    const std::string how = "run " + run_.name + (code == exit_ok ? " ended after " : " failed after ") + text +
                            " (exit code " + std::to_string(code) + ")" +
                            (code != exit_ok && !node_failure_.empty() ? ": " + node_failure_ : "");
    say(how);
    record_event("finished", how);
    record_final_table();
    record_exit(run_, code);
    if (to_job_ >= 0) ::close(to_job_);
    return code;
  }

  // final_status.json: every node's last table (relay::final_table), or
  // the last it gave a status; what `ls` and `status` of the ended run show
  // (with no node's table, `status` says the run left none).
  void record_final_table() {
    std::vector<relay::node_reply> replies;
    {
      std::lock_guard guard(pending_mutex_);
      // No node got as far as its end, and none was asked for a status.
      if (finals_.empty() && last_tables_.empty()) return;
      for (std::size_t n = 0; n < graph_.cluster->nodes.size(); ++n) {
        const auto it = finals_.find(n);
        replies.push_back({n, it == finals_.end() ? std::nullopt : std::optional<std::string>(it->second)});
      }
      // A node lost before its end: as it was last seen (stale).
      stand_in_for_silent(replies);
    }
    try {
      record_final_status(run_, relay::final_table(graph_, run_.name, replies));
    } catch (const std::exception& e) {
      say_error(std::string("cannot record the final status: ") + e.what());
    }
    // What `inspect` of the ended run shows, as on one host: each node's
    // last inspect of its instances (a lost node's, as another node saw
    // them: "lost").
    std::vector<relay::node_reply> inspected;
    {
      std::lock_guard guard(pending_mutex_);
      if (inspected_.empty()) return;
      for (std::size_t n = 0; n < graph_.cluster->nodes.size(); ++n) {
        const auto it = inspected_.find(n);
        inspected.push_back({n, it == inspected_.end() ? std::nullopt : std::optional<std::string>(it->second)});
      }
    }
    try {
      record_final_inspect(run_, relay::final_table(graph_, run_.name, inspected, ControlRequest::Verb::inspect));
    } catch (const std::exception& e) {
      say_error(std::string("cannot record the final inspect: ") + e.what());
    }
  }

  const Graph& graph_;
  RunEntry run_;
  bool colour_;
  bool terminal_ = stdout_is_terminal();  // actors' text is then terminal_safe
  steady::time_point started_{};
  bool stop_by_request_ = false;
  std::string job_name_;  // mpirun or srun
  pid_t job_ = -1;
  int to_job_ = -1;
  session_sweeper sweeper_;  // mpirun's session directory, should this process be killed
  bool forwarded_ = false;   // mpirun's last line on stderr said it passed a signal on
  std::optional<std::size_t> failed_rank_;  // the node whose end ended the job, as mpirun said
  std::string failed_how_;                  // "exited on signal 9 (Killed)"
  std::array<stream, 2> streams_;  // mpirun's stdout, stderr
  log_writer run_log_;
  log_writer event_log_;
  std::map<std::string, std::size_t, std::less<>> actor_of_;  // instance name -> actor index
  std::map<std::string, std::unique_ptr<log_writer>, std::less<>> logs_;
  std::map<std::size_t, std::size_t> ready_nodes_;  // node -> its instance count
  std::map<std::size_t, std::string> finals_;        // node -> its last status (final frames)
  std::map<std::size_t, std::string> last_tables_;   // node -> its last answer to a status (guarded as finals_)
  std::map<std::size_t, std::string> inspected_;     // node -> its last inspect (guarded as finals_)
  std::size_t first_final_ = 0;                     // the node whose final status came first
  std::string node_failure_;                        // "node n1: [supervisor] gave up (...)": the first node's reason
  std::optional<steady::time_point> end_job_at_;   // when escalate() takes the next step
  int job_signalled_ = 0;                           // 0, SIGTERM or SIGKILL: how far escalate() went
  std::optional<steady::time_point> stopped_since_;  // mpirun is stopped (end_stopped_job)
  steady::time_point next_stop_check_{};
  bool ready_told_ = false;
  bool held_stop_ = false;                  // a Ctrl-C before every node was ready: sent once they are
  std::vector<seen_process> job_children_;  // mpirun's children when end_job() ended it
  bool start_noted_ = false;                // watch_start() has said whom it waits for
  bool held_stops_told_ = false;  // tell_held_stops() has said so

  std::mutex write_mutex_;
  std::mutex pending_mutex_;
  std::condition_variable replied_;
  std::uint64_t last_id_ = 0;
  std::map<std::uint64_t, std::map<std::size_t, std::string>> pending_;  // id -> node -> reply
  bool ended_ = false;
  bool nodes_ready_ = false;                // every node has said it is ready
  bool stopping_ = false;                   // a stop was asked (a Ctrl-C, `procactor stop`)
  std::vector<ControlRequest> held_stops_;  // `procactor stop` before then: sent once they are
};

}  // namespace
#endif

int launch_cluster(const LaunchOptions& options, const Graph& graph) {
#ifndef PROCACTOR_WITH_MPI
  (void)options;
  std::cerr << "procactor: error: " << needs_mpi_error(graph, false).value_or("no MPI") << '\n';
  return exit_usage;
#else
  // Every host runs this executable and reads this file at the same paths.
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::filesystem::path file = std::filesystem::absolute(options.file);
  // Looked for before the run is made: a launcher that is not there
  // leaves no run behind, and the last run keeps its name.
  if (!on_path(graph.cluster->launcher)) {
    std::cerr << "procactor: error: " << graph.cluster->launcher << " is not on PATH: "
              << missing_launcher(graph.cluster->launcher) << '\n';
    return exit_failure;
  }
  if (const auto rotate = log_rotate_setting(); !rotate) {
    std::cerr << "procactor: error: " << rotate.error << '\n';
    return exit_usage;
  }
  // Bound before the run is made: a port in use leaves no run behind.
  std::optional<dashboard_server> dashboard;
  if (options.http && !bind_dashboard(*options.http, dashboard)) return exit_failure;
  // The run as `status`, `logs` and `stop` name it on this host; each node
  // also has its own (RUN-NODE) on its host.
  const RunEntry run = create_run(graph.name);
  job_command job;
  try {
    job = graph.cluster->launcher == "srun" ? srun_line(graph, self, file, run.dir, run.name)
                                            : mpirun_line(graph, self, file, run.name);
  } catch (const std::exception& e) {
    std::cerr << "procactor: error: " << e.what() << '\n';
    record_exit(run, exit_usage);
    return exit_usage;
  }
  int detached_code = exit_ok;
  if (options.detach && detach(run, detached_code)) return detached_code;
  record_supervisor(run);
  install_stop_signals();
  ::signal(SIGPIPE, SIG_IGN);  // a write to an mpirun that is gone fails; it does not kill
  int code = exit_failure;
  {
    cluster_launch launch(graph, options, run);
    if (dashboard) dashboard->serve(run);
    code = launch.run(job);
  }
  // As a one-node launch: the page open on it learns how the run ended,
  // once the launch answers no more (its control ends with it).
  if (dashboard) dashboard->linger();
  return code;
#endif
}

#ifndef PROCACTOR_WITH_MPI
int run_node(const Graph& graph, const std::string& node) {
  (void)graph;
  std::cerr << "procactor: error: cannot run node " << node
            << ": this procactor was built without MPI (PROCACTOR_WITH_MPI=OFF)\n";
  return exit_usage;
}
#endif

}  // namespace procactor::launcher
