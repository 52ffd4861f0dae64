#include "launcher_workloads.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "../../examples/plugin/primes.hpp"
#include "child_process.hpp"
#include "shm_cleanup.hpp"

#ifndef PROCACTOR_BENCH_LAUNCHER
#error "PROCACTOR_BENCH_LAUNCHER (the build's path of the procactor executable) must be defined by the build"
#endif
#ifndef PROCACTOR_BENCH_EXAMPLES_PLUGIN
#error "PROCACTOR_BENCH_EXAMPLES_PLUGIN (the build's path of libprocactor_examples.so) must be defined by the build"
#endif

extern char** environ;

namespace procactor_bench {

namespace {

namespace fs = std::filesystem;

constexpr const char* plugin_name = "libprocactor_examples.so";
// Far beyond any sane run (the default primes graph takes seconds to tens of
// seconds here); only a wedged launcher comes near them.
constexpr auto primes_launch_timeout = std::chrono::seconds(300);
constexpr auto ready_launch_timeout = std::chrono::seconds(60);

// Where the private directories go: $TMPDIR, or /tmp when that is unset or
// long. The launcher's control socket lives at DIR/runs/<run>/control.sock,
// and a socket path must fit in 108 bytes.
std::string temp_base() {
  const char* tmpdir = std::getenv("TMPDIR");
  if (tmpdir != nullptr && *tmpdir == '/' && std::strlen(tmpdir) <= 40) return tmpdir;
  return "/tmp";
}

constexpr std::string_view temp_prefix = "procactor-bench-";

// A TOML basic string.
std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Our environment, except that runs go under `runtime_dir` (the launch's
// state directory, runtime_dir/runs, and its XDG_RUNTIME_DIR) and nothing
// of a procactor child's own mode (PROCACTOR_*) leaks into the launcher.
std::vector<std::string> launcher_environment(const fs::path& runtime_dir) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view var = *entry;
    if (var.starts_with("XDG_RUNTIME_DIR=") || var.starts_with("PROCACTOR_")) continue;
    env.emplace_back(var);
  }
  env.push_back("XDG_RUNTIME_DIR=" + runtime_dir.string());
  env.push_back("PROCACTOR_STATE_DIR=" + (runtime_dir / "runs").string());
  return env;
}

// The pids whose parent is this process, zombies included.
std::set<pid_t> children_of_self() {
  std::set<pid_t> children;
  const pid_t self = ::getpid();
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat_file(it->path() / "stat");
    std::string stat;
    std::getline(stat_file, stat);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if ((rest >> state >> ppid) && ppid == self) children.insert(static_cast<pid_t>(std::stol(name)));
  }
  return children;
}

// The actors of a launcher that died without reaping them (SIGKILL, say):
// each leads its own process group, and they are re-parented to us (the
// runtime makes this process a child subreaper), as zombies once they have
// died with the launcher (PR_SET_PDEATHSIG). By the time the launcher has been
// reaped the kernel has re-parented all of them, so they are exactly our
// children that were not there before the launch: nothing else starts
// processes here while a launch runs. Waits up to `grace` for them to exit,
// then SIGKILLs and reaps the rest.
void reap_stray_actors(const std::set<pid_t>& before, std::chrono::milliseconds grace) noexcept try {
  const auto deadline = bench_clock::now() + grace;
  for (;;) {
    std::vector<pid_t> strays;
    for (const pid_t pid : children_of_self()) {
      if (before.count(pid) == 0) strays.push_back(pid);
    }
    if (strays.empty()) return;
    const bool late = bench_clock::now() >= deadline;
    for (const pid_t pid : strays) {
      if (late) ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, late ? 0 : WNOHANG);
    }
    if (!late) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
} catch (const std::exception&) {
  // Out of memory, at worst: the orphans stay zombies until we exit.
}

struct launch_output {
  std::string text;  // stdout and stderr, interleaved
  double wall_s = 0;
};

std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t begin = text.size();
  while (begin > 0 && text[begin - 1] == '\n') --begin;
  const std::size_t end = begin;
  for (std::size_t seen = 0; begin > 0; --begin) {
    if (text[begin - 1] == '\n' && ++seen == count) break;
  }
  std::string tail = text.substr(begin, end - begin);
  if (tail.empty()) return "(none)";
  std::replace(tail.begin(), tail.end(), '\n', ';');
  return tail;
}

// `procactor launch FILE --no-color`, timed from just before the fork to its
// exit; afterwards nothing of it is left running, unreaped or in /dev/shm.
launch_output launch(const launcher_paths& paths, const fs::path& graph_file, const temp_dir& dir,
                     std::chrono::seconds timeout) {
  const std::vector<std::string> env = launcher_environment(dir.path());
  const std::vector<std::string> args{"procactor", "launch", graph_file.string(), "--no-color"};
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  fd_guard read_end(pipe_fds[0]);
  fd_guard write_end(pipe_fds[1]);

  // Runs after `child` is gone (declared before it): its orphans reaped, and
  // the shared memory of a launcher that could not remove it (SIGKILL) too.
  struct after_launch {
    std::set<pid_t> children_before = children_of_self();
    pid_t launcher = -1;
    ~after_launch() {
      reap_stray_actors(children_before, std::chrono::seconds(2));
      if (launcher > 0) {
        remove_runtime_arena_of(launcher);
        untrack_launcher_pid();
      }
    }
  } cleanup;

  launch_output result;
  const auto start = bench_clock::now();
  auto child = child_process::start(paths.procactor, args, write_end.get(), true, write_end.get(), &env);
  cleanup.launcher = child.pid();
  track_launcher_pid(child.pid());
  write_end.reset();
  const auto deadline = bench_clock::now() + timeout;
  const bool eof = read_until_eof(read_end.get(), result.text, deadline);
  const auto status = eof ? child.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(deadline - bench_clock::now(), bench_clock::duration::zero())))
                          : std::nullopt;
  const auto stop = bench_clock::now();
  if (!status) {
    child.kill_and_reap();
    throw std::runtime_error("procactor launch did not finish within " + std::to_string(timeout.count()) +
                             " s; its last output: " + last_lines(result.text, 3));
  }
  // Whatever of its own process group outlived it; its actors lead groups of
  // their own and are seen to by `cleanup`.
  child.reap_group(std::chrono::seconds(2));
  if (!status->success()) {
    throw std::runtime_error("procactor launch " + status->describe() + "; its last output: " +
                             last_lines(result.text, 3));
  }
  result.wall_s = seconds_between(start, stop);
  return result;
}

// Each line of `text` that starts with `who | `, without that prefix.
std::vector<std::string_view> lines_of(std::string_view text, std::string_view who) {
  std::vector<std::string_view> found;
  const std::string prefix = std::string(who) + " | ";
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    if (line.starts_with(prefix)) found.push_back(line.substr(prefix.size()));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return found;
}

template <class Number>
std::optional<Number> leading_number(std::string_view text, std::string_view* rest = nullptr) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  if (rest != nullptr) *rest = text.substr(static_cast<std::size_t>(end - text.data()));
  return value;
}

// "sink.0 | total: N"
std::int64_t parse_total(const std::string& text) {
  for (const auto line : lines_of(text, "sink.0")) {
    constexpr std::string_view label = "total: ";
    if (!line.starts_with(label)) continue;
    if (const auto total = leading_number<std::int64_t>(line.substr(label.size()))) return *total;
  }
  throw std::runtime_error("procactor launch printed no 'sink.0 | total: N' line; its last output: " +
                           last_lines(text, 3));
}

// "procactor | N actors ready in X ms": {N, X}.
std::pair<int, double> parse_ready(const std::string& text) {
  for (auto line : lines_of(text, "procactor")) {
    std::string_view rest;
    const auto actors = leading_number<int>(line, &rest);
    constexpr std::string_view middle = " actors ready in ";
    if (!actors || !rest.starts_with(middle)) continue;
    rest.remove_prefix(middle.size());
    const auto ms = leading_number<double>(rest, &rest);
    if (ms && rest.starts_with(" ms")) return {*actors, *ms};
  }
  throw std::runtime_error("procactor launch printed no 'procactor | N actors ready in X ms' line; its last output: " +
                           last_lines(text, 3));
}

// "procactor | graph NAME finished in S s": S, if printed.
std::optional<double> parse_finished_s(const std::string& text) {
  for (auto line : lines_of(text, "procactor")) {
    const std::size_t at = line.find(" finished in ");
    if (!line.starts_with("graph ") || at == std::string_view::npos) continue;
    if (const auto seconds = leading_number<double>(line.substr(at + std::strlen(" finished in ")))) {
      return *seconds;
    }
  }
  return std::nullopt;
}

std::string graph_header(const std::string& name, const launcher_paths& paths) {
  return "version = 1\n\n[graph]\nname = " + toml_string(name) + "\nplugins = [" + toml_string(paths.plugin) +
         "]\nmailbox_capacity = \"1MiB\"\nshutdown_timeout = \"5s\"\n\n"
         "[supervisor]\nstrategy = \"one_for_one\"\nmax_restarts = 5\nwithin = \"30s\"\n\n";
}

std::string range_source(std::int64_t from, std::int64_t to, std::int64_t chunk) {
  return "[actors.source]\ntype = \"examples.RangeSource\"\nparams = { from = " + std::to_string(from) +
         ", to = " + std::to_string(to) + ", chunk = " + std::to_string(chunk) + " }\n\n";
}

// source -> worker by `policy`, worker -> sink.
std::string routes(const char* policy) {
  return std::string("[[routes]]\nfrom = \"source\"\nto = \"worker\"\npolicy = \"") + policy +
         "\"\n\n[[routes]]\nfrom = \"worker\"\nto = \"sink\"\n";
}

// examples/graphs/primes.toml, with the limit, the plugin's path and the
// number of PrimeCounters filled in ("auto" is one per core, as in the file);
// ranges go to the least loaded counter, as in the file.
std::string primes_graph_text(const primes_graph_params& params, const launcher_paths& paths,
                              const std::string& replicas, unsigned nodes) {
  std::string cluster;
  std::string spread;
  if (nodes > 1) {
    cluster = "[cluster]\nnodes = [";
    spread = "nodes = [";
    for (unsigned n = 0; n < nodes; ++n) {
      cluster += std::string(n == 0 ? "" : ", ") + "{ name = \"n" + std::to_string(n) + "\", host = \"localhost\" }";
      spread += std::string(n == 0 ? "" : ", ") + "\"n" + std::to_string(n) + "\"";
    }
    cluster += "]\nmpi_args = [\"--mca\", \"btl\", \"tcp,self\", \"--mca\", \"btl_tcp_if_include\", \"lo\", "
               "\"--mca\", \"oob_tcp_if_include\", \"lo\"]\n\n";
    spread += "]\n";
  }
  return graph_header("primes", paths) + cluster + range_source(2, params.limit, params.chunk) +
         "[actors.worker]\ntype = \"examples.PrimeCounter\"\nreplicas = " + replicas + "\ncpu = \"spread\"\n" +
         spread + "\n[actors.sink]\ntype = \"examples.Sum\"\n\n" +
         routes("least_loaded");
}

// One source, actors - 2 PrimeCounters, one Sum: `actors` processes in all,
// with just enough work (a hundred small ranges) to make the graph real.
constexpr std::int64_t ready_graph_limit = 10'000;
std::string ready_graph_text(int actors, const launcher_paths& paths) {
  return graph_header("ready-" + std::to_string(actors), paths) + range_source(2, ready_graph_limit, 100) +
         "[actors.worker]\ntype = \"examples.PrimeCounter\"\nreplicas = " + std::to_string(actors - 2) +
         "\n\n[actors.sink]\ntype = \"examples.Sum\"\n\n" + routes("round_robin");
}

std::optional<std::string> existing(const fs::path& path, bool executable) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  if (executable && ::access(path.c_str(), X_OK) != 0) return std::nullopt;
  return fs::weakly_canonical(path, ec).string();
}

}  // namespace

temp_dir::temp_dir() {
  std::string pattern = temp_base() + "/" + std::string(temp_prefix) + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
  try {
    track_temp_dir(path_.string());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
    throw;
  }
}

temp_dir::~temp_dir() {
  untrack_temp_dir();
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

int sweep_stale_temp_dirs() {
  int removed = 0;
  const uid_t uid = ::getuid();
  std::error_code ec;
  for (fs::directory_iterator it(temp_base(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(temp_prefix)) continue;
    long pid = 0;
    const char* digits = name.c_str() + temp_prefix.size();
    const auto [after, parse_error] = std::from_chars(digits, name.c_str() + name.size(), pid);
    if (parse_error != std::errc{} || *after != '-' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != uid) continue;
    if (remove_tree(it->path().c_str())) ++removed;
  }
  return removed;
}

launcher_paths locate_launcher() {
  fs::path bin_dir;
  try {
    bin_dir = fs::path(self_executable()).parent_path();
  } catch (const std::exception&) {
    // No /proc: only the compiled-in paths are left.
  }
  auto procactor = bin_dir.empty() ? std::nullopt : existing(bin_dir / "procactor", true);
  if (!procactor) procactor = existing(PROCACTOR_BENCH_LAUNCHER, true);
  auto plugin = bin_dir.empty() ? std::nullopt : existing(bin_dir / ".." / "lib" / plugin_name, false);
  if (!plugin) plugin = existing(PROCACTOR_BENCH_EXAMPLES_PLUGIN, false);
  if (!procactor) {
    throw std::runtime_error("the procactor executable is neither next to this binary nor at " +
                             std::string(PROCACTOR_BENCH_LAUNCHER) + " (build the procactor target)");
  }
  if (!plugin) {
    throw std::runtime_error(std::string(plugin_name) + " is neither in ../lib next to this binary nor at " +
                             PROCACTOR_BENCH_EXAMPLES_PLUGIN + " (build the procactor_examples target)");
  }
  return {*procactor, *plugin};
}

primes_graph_result launch_primes_graph(const primes_graph_params& params, const launcher_paths& paths,
                                        unsigned replicas, unsigned nodes) {
  if (params.limit <= 2 || params.chunk <= 0) throw std::invalid_argument("primes_graph: bad limit or chunk");
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  primes_graph_result result;
  result.replicas = replicas == 0 ? cores : replicas;
  const temp_dir dir;
  const fs::path file = dir.path() / "primes.toml";
  write_file(file, primes_graph_text(params, paths,
                                     replicas == 0 || replicas == cores ? std::string("\"auto\"")
                                                                        : std::to_string(replicas),
                                     nodes));
  const launch_output out = launch(paths, file, dir, primes_launch_timeout);
  result.total = parse_total(out.text);
  result.graph_s = out.wall_s;
  result.launcher_reported_s = parse_finished_s(out.text).value_or(0);
  return result;
}

launch_ready_result run_launch_ready(const launch_ready_params& params, const launcher_paths& paths) {
  if (params.actors < 3 || params.runs <= 0) throw std::invalid_argument("launch_ready: need >= 3 actors, >= 1 run");
  const std::int64_t expected_total = examples::count_primes(2, ready_graph_limit);
  const temp_dir dir;
  const fs::path file = dir.path() / "ready.toml";
  write_file(file, ready_graph_text(params.actors, paths));

  std::vector<double> ready_ms;
  std::vector<double> wall_ms;
  for (int i = 0; i < params.warmups + params.runs; ++i) {
    const launch_output out = launch(paths, file, dir, ready_launch_timeout);
    const auto [actors, ms] = parse_ready(out.text);
    if (actors != params.actors) {
      throw std::runtime_error("the launcher reported " + std::to_string(actors) + " actors ready, not " +
                               std::to_string(params.actors));
    }
    if (const auto total = parse_total(out.text); total != expected_total) {
      throw std::runtime_error("the " + std::to_string(params.actors) + "-actor graph counted " +
                               std::to_string(total) + " primes, not " + std::to_string(expected_total));
    }
    if (i < params.warmups) continue;
    ready_ms.push_back(ms);
    wall_ms.push_back(out.wall_s * 1e3);
  }
  return {summarize(std::move(ready_ms)), summarize(std::move(wall_ms)), params.actors};
}

}  // namespace procactor_bench
