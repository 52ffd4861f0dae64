// `procactor launch` of graphs placed on two nodes of a [cluster], both on
// this host: mpirun starts one `procactor node` per node, and what crosses
// the nodes goes through the gateways over TCP on the loopback (every
// graph here passes mpi_args that keep Open MPI off shared memory).
//
// A node's own lines are `procactor@NODE | ...`; actor output is as on one
// host. Each node has its run directory, GRAPH-NODE, with its
// supervisor.pid: the checks that nothing is left behind look at every
// node's supervisor, its actors and its /dev/shm segments.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace cli {
namespace {

const std::array<std::string, 2> nodes = {"n0", "n1"};

// A node's supervisor pid, from its run directory GRAPH-NODE.
pid_t node_supervisor(const sandbox& box, const std::string& graph, const std::string& node) {
  std::ifstream file(box.runs_root() / (graph + "-" + node) / "supervisor.pid");
  pid_t pid = 0;
  file >> pid;
  return pid;
}

// Declared after the launch, so destroyed before it: a test that fails
// with the launch still running lets mpirun end its job and remove its
// session directory (/tmp/ompi.*) on SIGTERM, before the sandbox kills
// whatever is left with SIGKILL, which mpirun could not clean up after.
// The mpirun processes whose command line names `file`.
std::vector<pid_t> mpirun_of(const fs::path& file) {
  std::vector<pid_t> found;
  for (pid_t pid : processes_with_cmdline(file.string())) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == "mpirun") found.push_back(pid);
  }
  return found;
}

class mpirun_guard {
 public:
  explicit mpirun_guard(fs::path file) : file_(std::move(file)) {}
  ~mpirun_guard() {
    const auto running = mpirun_of(file_);
    if (running.empty()) return;
    for (pid_t pid : running) ::kill(pid, SIGTERM);
    (void)eventually([&] { return mpirun_of(file_).empty(); }, 30s);
  }
  mpirun_guard(const mpirun_guard&) = delete;
  mpirun_guard& operator=(const mpirun_guard&) = delete;

 private:
  fs::path file_;
};

// What a killed mpirun `pid` could leave on this host: its session
// directories (/tmp/ompi.HOST.UID/pid.PID, Open MPI 4) that exist.
fs::path default_session_base() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

std::vector<fs::path> mpi_sessions_of(pid_t pid, const fs::path& base = default_session_base()) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path dir = it->path() / ("pid." + std::to_string(pid));
    if (it->path().filename().string().starts_with("ompi.") && fs::exists(dir)) found.push_back(dir);
  }
  return found;
}

// (What is left is removed: the suite leaves nothing, failed or not.)
void check_mpi_session_removed(pid_t mpirun, const fs::path& base = default_session_base()) {
  const auto left = mpi_sessions_of(mpirun, base);
  CHECK_MESSAGE(left.empty(), "mpirun's session directory is left: ", left.empty() ? fs::path() : left.front());
  std::error_code ignored;
  for (const auto& dir : left) fs::remove_all(dir, ignored);
}

// The graph `text` with mpirun's sessions under `base` (orte_tmpdir_base),
// which this makes: the top directory there, ompi.HOST.UID, that Open MPI
// shares among a user's jobs, is then this test's alone.
std::string with_session_base(const std::string& text, const fs::path& base) {
  fs::create_directories(base);
  const std::string mark = "mpi_args = [";
  const std::size_t at = text.find(mark);
  REQUIRE(at != std::string::npos);
  return text.substr(0, at + mark.size()) + R"("--mca", "orte_tmpdir_base", ")" + base.string() + "\", " +
         text.substr(at + mark.size());
}

// Nothing of mpirun's sessions is left under a base of the test's own: a
// killed mpirun's session directory goes, and so does the top directory
// above it, once empty (it was left, empty, in /tmp).
void check_session_base_empty(const fs::path& base) {
  std::vector<std::string> left;
  const auto listing = [&] {
    left.clear();
    for (const auto& entry : fs::recursive_directory_iterator(base)) left.push_back(entry.path().string());
    return left.empty();
  };
  CHECK_MESSAGE(eventually(listing, 30s), left.size(), " left under ", base, ", e.g. ",
                left.empty() ? std::string() : left.front());
}

// The Open MPI job of a rank (a node supervisor), as the names of the job's
// segments write it (vader_segment.HOST.JOBID.RANK, JOBID in hex), from the
// rank's environment; "" when it cannot be read.
std::string mpi_job_of(pid_t rank) {
  std::ifstream environment("/proc/" + std::to_string(rank) + "/environ");
  constexpr std::string_view key = "OMPI_MCA_ess_base_jobid=";
  for (std::string entry; std::getline(environment, entry, '\0');) {
    if (!entry.starts_with(key)) continue;
    std::ostringstream hex;
    hex << std::hex << std::stoull(entry.substr(key.size()));
    return hex.str();
  }
  return "";
}

// The value of `name` in the environment of `pid`; nullopt when unset.
std::optional<std::string> environment_value(pid_t pid, const std::string& name) {
  std::ifstream environment("/proc/" + std::to_string(pid) + "/environ");
  for (std::string entry; std::getline(environment, entry, '\0');) {
    if (entry.starts_with(name + "=")) return entry.substr(name.size() + 1);
  }
  return std::nullopt;
}

// The segments of Open MPI's shared-memory transport in /dev/shm that the
// job `job` (mpi_job_of) made: only this test's, whatever else runs.
std::vector<std::string> vader_segments_of(const std::string& job) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("vader_segment.") && name.find("." + job + ".") != std::string::npos) found.push_back(name);
  }
  return found;
}

std::vector<pid_t> values(const std::map<std::string, pid_t>& pids) {
  std::vector<pid_t> out;
  for (const auto& [name, pid] : pids) out.push_back(pid);
  return out;
}

// `procactor launch` of the test graph `graph_file` in a session of its
// own (Ctrl-C reaches its group, as a terminal's), once both nodes' ready
// lines are out: the pids of each node's running instances (from `status
// GRAPH-NODE --json`; running_instances leaves out the other node's,
// "remote" there).
struct two_node_launch {
  two_node_launch(sandbox& box, fs::path graph_file, const std::string& graph, std::size_t each)
      : file(std::move(graph_file)),
        launch(box.start({"launch", file.string()}, {.cwd = {}, .new_session = true})),
        guard(file) {
    const std::string ready = " " + std::to_string(each) + (each == 1 ? " actor" : " actors") + " ready in ";
    launch->wait_for_output("procactor@n0 |" + ready, 120s);
    launch->wait_for_output("procactor@n1 |" + ready, 120s);
    on_n0 = running_instances(box, graph + "-n0", each);
    on_n1 = running_instances(box, graph + "-n1", each);
  }
  // Every actor pid of both nodes.
  [[nodiscard]] std::vector<pid_t> actors() const {
    std::vector<pid_t> all = values(on_n0);
    for (pid_t pid : values(on_n1)) all.push_back(pid);
    return all;
  }

  fs::path file;
  std::unique_ptr<process> launch;
  mpirun_guard guard;  // after the launch: destroyed first
  std::map<std::string, pid_t> on_n0;
  std::map<std::string, pid_t> on_n1;
};

// After the launch has exited: no node supervisor, actor or /dev/shm
// segment of the run is left on either node, nor mpirun (nor anything
// else whose command line names the graph file).
void check_nodes_left_nothing(const sandbox& box, const std::string& graph, const fs::path& file,
                              const std::vector<pid_t>& actor_pids = {}) {
  for (const std::string& node : nodes) {
    const pid_t supervisor = node_supervisor(box, graph, node);
    CHECK_MESSAGE(supervisor > 0, "no supervisor.pid in the run directory of node ", node);
    if (supervisor > 0) check_run_left_nothing(supervisor, actor_pids);
  }
  std::vector<pid_t> left;
  CHECK_MESSAGE(eventually([&] { return (left = processes_with_cmdline(file.string())).empty(); }, 60s), left.size(),
                " processes still name ", file);
}

// The end of an endless-two-nodes launch whose mpirun was killed (its
// output `out`): the line that says so, and nothing of the run, its nodes
// or mpirun's session left.
void check_killed_mpirun_left_nothing(const sandbox& box, const two_node_launch& run, const std::string& out,
                                      pid_t mpirun, const fs::path& base = default_session_base()) {
  CHECK_MESSAGE(out.find("procactor | mpirun ended by signal 9; no last status from nodes n0 (host localhost), n1 "
                         "(host localhost): lost, or killed\n") != std::string::npos,
                out);
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", run.file, run.actors());
  check_mpi_session_removed(mpirun, base);
}

// Whether the sink printed this total, on a line of its own.
bool has_total(const std::string& out, long total) {
  return out.find("\nsink.0 | total: " + std::to_string(total) + "\n") != std::string::npos;
}

// The number a line `PREFIX<number>` carries; -1 when there is no such line.
long number_after(const std::string& out, const std::string& prefix) {
  for (const auto& line : lines_of(out)) {
    if (line.starts_with(prefix)) return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

// Polls the output until `text` appears at least `times` times.
void wait_for_count(process& launch, const std::string& text, std::size_t times, seconds timeout) {
  const bool seen =
      eventually([&] { return count_of(launch.out(), text) >= times || launch.poll().has_value(); }, timeout);
  if (!seen || count_of(launch.out(), text) < times) {
    FAIL("'" << text << "' not " << times << " times in the output of pid " << launch.pid() << "\nstdout:\n"
             << launch.out() << "\nstderr:\n"
             << launch.err());
  }
}

// No gateway dropped a message (it says so on stderr).
void check_nothing_dropped(const std::string& err) {
  CHECK_MESSAGE(err.find(" was dropped") == std::string::npos, err);
}

// Runs `procactor launch FILE` to its end (a graph that finishes on its
// own); checks the exit code, that each node said it finished, that no
// message was dropped, and that nothing is left. Its standard output.
std::string launch_to_end(sandbox& box, const fs::path& file, const std::string& graph) {
  auto launch = box.start({"launch", file.string()});
  const mpirun_guard guard(file);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | graph " + graph + " finished in ") == 1, out);
  }
  check_nothing_dropped(launch->err());
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, graph, file);
  return out;
}

}  // namespace

TEST_CASE("primes on two nodes count as many as example-primes and each node finishes" * doctest::timeout(290)) {
  sandbox box;
  const result reference = box.program({example_primes_binary().string(), "2000000"}, 240s);
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(reference.out, match, std::regex("primes below 2000000: ([0-9]+)")), reference.out);
  const long expected = std::stol(match[1]);
  CHECK(expected == primes_between(0, 2'000'000));

  const fs::path file = box.copy_graph("primes_two_nodes.toml");
  const std::string out = launch_to_end(box, file, "primes-two-nodes");
  CHECK_MESSAGE(has_total(out, expected), out);
  CHECK(count_of(out, "sink.0 | ") == 1);
  CHECK(count_of(out, "procactor@n0 | 3 actors ready in ") == 1);
  CHECK(count_of(out, "procactor@n1 | 1 actor ready in ") == 1);
  CHECK(out.find(" failed after ") == std::string::npos);

  // The launching host keeps the run's last table, every node's instances
  // with the node that ran them, for `status` and `ls` of the ended run.
  const result status = box.procactor({"status", "primes-two-nodes", "--json"});
  CHECK(status.exit_code == 3);  // it has ended, as every command on it says
  const auto table = nlohmann::json::parse(status.out, nullptr, false);
  REQUIRE_MESSAGE(!table.is_discarded(), status.out, status.err);
  REQUIRE(table["actors"].size() == 4);
  std::set<std::string> placed;
  for (const auto& row : table["actors"]) {
    CHECK(row["state"] == "exited");
    placed.insert(row["name"].get<std::string>() + "@" + row["node"].get<std::string>());
  }
  CHECK_MESSAGE(placed.size() == 4, status.out);
  CHECK(table.value("unanswered_nodes", std::string()).empty());
  const result ls = box.procactor({"ls", "--json"});
  CHECK_MESSAGE(ls.out.find("\"primes-two-nodes\"") != std::string::npos, ls.out);

  // A third node that no instance is placed on: started all the same, and
  // said (it was silent).
  std::string text = read_whole(file);
  const std::string two = R"({ name = "n1", host = "localhost" } ])";
  REQUIRE(text.find(two) != std::string::npos);
  text.replace(text.find(two), two.size(),
               R"({ name = "n1", host = "localhost" }, { name = "n2", host = "localhost" } ])");
  text.replace(text.find("to = 2_000_000"), std::string("to = 2_000_000").size(), "to = 200_000");
  const fs::path three = box.dir() / "primes_three_nodes.toml";
  std::ofstream(three) << text;
  const std::string out3 = launch_to_end(box, three, "primes-two-nodes");
  CHECK_MESSAGE(out3.starts_with("procactor | node n2 (host localhost) has no instance: mpirun starts it all the same, "
                                 "as [cluster] lists it\n"),
                out3);
  CHECK_MESSAGE(has_total(out3, primes_between(0, 200'000)), out3);
}

TEST_CASE("the example primes-cluster.toml counts as many primes as example-primes" * doctest::timeout(590)) {
  sandbox box;
  const result reference = box.program({example_primes_binary().string(), "20000000"}, 400s);
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(reference.out, match, std::regex("primes below 20000000: ([0-9]+)")),
                  reference.out);
  const long expected = std::stol(match[1]);
  const std::string out = launch_to_end(box, box.copy_graph("example_primes-cluster.toml"), "primes-cluster");
  CHECK_MESSAGE(has_total(out, expected), out);
  CHECK(count_of(out, "sink.0 | ") == 1);
}

TEST_CASE("each node starts the instances placed on it and only those" * doctest::timeout(290)) {
  sandbox box;
  const fs::path file = box.copy_graph("primes_placed.toml");
  const std::string out = launch_to_end(box, file, "primes-placed");
  const std::map<std::string, std::string> placed = {{"source.0", "n1"}, {"worker.0", "n1"}, {"worker.1", "n0"},
                                                     {"worker.2", "n1"}, {"worker.3", "n0"}, {"sink.0", "n0"}};
  for (const auto& [instance, node] : placed) {
    const std::string other = node == "n0" ? "n1" : "n0";
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | " + instance + " started (pid ") == 1, instance, "\n", out);
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | " + instance + " exited (exit code 0)") == 1, instance);
    CHECK_MESSAGE(count_of(out, "procactor@" + other + " | " + instance + " ") == 0, instance, "\n", out);
  }
  CHECK(count_of(out, " started (pid ") == placed.size());
  CHECK_MESSAGE(count_of(out, "procactor@n0 | 3 actors ready in ") == 1, out);
  CHECK_MESSAGE(count_of(out, "procactor@n1 | 3 actors ready in ") == 1, out);
  CHECK_MESSAGE(has_total(out, primes_between(2, 2'000'000)), out);
  // Each node kept a run directory of its own, which says how it ended.
  for (const std::string& node : nodes) {
    const result status = box.procactor({"status", "primes-placed-" + node});
    CHECK(status.exit_code == 3);
    CHECK_MESSAGE(status.err.find("it ended with exit code 0") != std::string::npos, status.err);
  }
}

TEST_CASE("across two nodes asks are answered and 1 MiB messages arrive whole and each sender's order holds" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path file = box.copy_graph("cross_nodes.toml");
  const std::string out = launch_to_end(box, file, "cross-nodes");
  // Placement: each asker's replier is on the other node.
  CHECK(count_of(out, "procactor@n0 | asker.0 started (pid ") == 1);
  CHECK(count_of(out, "procactor@n1 | replier.0 started (pid ") == 1);
  CHECK(count_of(out, "procactor@n1 | asker.1 started (pid ") == 1);
  CHECK(count_of(out, "procactor@n0 | replier.1 started (pid ") == 1);
  // Every question and every answer, 1 MiB each way, checked byte by byte.
  for (const std::string r : {"0", "1"}) {
    CHECK_MESSAGE(count_of(out, "\nasker." + r + " | asked replier." + r +
                                    " 6 questions of 1048576 bytes: 6 answers right\n") == 1,
                  out);
    CHECK_MESSAGE(count_of(out, "\nreplier." + r + " | questions checked: 6 right, 0 wrong, of 1048576 bytes\n") == 1,
                  out);
  }
  CHECK_MESSAGE(out.find(" is wrong") == std::string::npos, out);
  CHECK_MESSAGE(out.find(" failed: ") == std::string::npos, out);
  // Fan-in from two senders on each node: each sender's 20000 messages
  // came in order, none missing, none twice.
  CHECK_MESSAGE(count_of(out,
                         "\nchecker.0 | fifo: 4 senders, 80000 messages, 0 out of order, last: 20000 20000 20000 "
                         "20000\n") == 1,
                out);
  CHECK_MESSAGE(out.find("checker.0 | sender ") == std::string::npos, out);
}

TEST_CASE("a question that reaches a node before it declared its target waits for it and is answered" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path file = box.copy_graph("late_target.toml");
  const std::string out = launch_to_end(box, file, "late-target");
  CHECK_MESSAGE(count_of(out, "\nasker.0 | asked replier.0 3 questions of 1000 bytes: 3 answers right\n") == 1, out);
  CHECK_MESSAGE(count_of(out, "\nreplier.0 | questions checked: 3 right, 0 wrong, of 1000 bytes\n") == 1, out);
  CHECK_MESSAGE(count_of(out, "procactor@n1 | 41 actors ready in ") == 1, out);
}

TEST_CASE("crashy workers on two nodes are restarted by their own node and no number is lost" * doctest::timeout(290)) {
  sandbox box;
  const fs::path file = box.copy_graph("crashy_two_nodes.toml");
  const std::string out = launch_to_end(box, file, "crashy-two-nodes");
  CHECK_MESSAGE(has_total(out, primes_between(1, 20'000)), out);
  // worker.0 runs on n0, worker.1 on n1: each crashed, and its own node
  // (and only it) restarted it.
  CHECK(count_of(out, "procactor@n0 | worker.0 exited (signal 6") >= 1);
  CHECK(count_of(out, "procactor@n0 | worker.0 restarting: ") >= 1);
  CHECK(count_of(out, "procactor@n1 | worker.1 exited (signal 6") >= 1);
  CHECK(count_of(out, "procactor@n1 | worker.1 restarting: ") >= 1);
  CHECK(count_of(out, "procactor@n1 | worker.0 ") == 0);
  CHECK(count_of(out, "procactor@n0 | worker.1 ") == 0);
  CHECK(out.find("gave up") == std::string::npos);
}

TEST_CASE("a least_loaded route counts what waits on another node and sends a held worker there no more than two" *
          doctest::timeout(290)) {
  sandbox box;
  const std::string out = launch_to_end(box, box.copy_graph("least_loaded_two_nodes.toml"), "least-loaded-two-nodes");
  // worker.1, on n1, held its first tick until the end: the route on n0
  // saw its two (the held one and one queued) through n1's reports, and
  // sent every other tick to worker.0.
  const long held = number_after(out, "worker.1 | received: ");
  const long other = number_after(out, "worker.0 | received: ");
  CHECK_MESSAGE(held >= 1, out);
  CHECK_MESSAGE(held <= 2, out);
  CHECK_MESSAGE(held + other == 200, out);
}

TEST_CASE("a relay killed with kill -9 on the other node is restarted there and no tick is lost" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("relay_two_nodes.toml"), "relay-two-nodes", 2);
  REQUIRE(run.on_n1.contains("worker.0"));
  const pid_t victim = run.on_n1.at("worker.0");

  REQUIRE(::kill(victim, SIGKILL) == 0);
  run.launch->wait_for_output("procactor@n1 | worker.0 exited (signal 9", 120s);
  wait_for_count(*run.launch, "procactor@n1 | worker.0 started (pid ", 2, 120s);
  const auto restarted = running_instances(box, "relay-two-nodes-n1", 2);
  CHECK(restarted.at("worker.0") != victim);

  run.launch->signal(SIGINT);
  const int code = run.launch->wait(240s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 0, out, run.launch->err());
  // Every tick the source emitted reached the sink through the relays on
  // n1, the killed one's queue and its message in hand included.
  const long emitted = number_after(out, "source.0 | emitted: ");
  CHECK_MESSAGE(emitted > 0, out);
  CHECK_MESSAGE(count_of(out, "\nsink.0 | ticks: " + std::to_string(emitted) + " distinct, highest " +
                                  std::to_string(emitted) + ", missing 0\n") == 1,
                out);
  check_nothing_dropped(run.launch->err());
  CHECK(count_of(out, "procactor@n0 | worker.") == 0);
  CHECK(out.find("gave up") == std::string::npos);
  for (const std::string& node : nodes) {
    CHECK(count_of(out, "procactor@" + node + " | graph relay-two-nodes stopped after ") == 1);
  }

  std::vector<pid_t> actors = values(run.on_n0);
  for (const auto& pids : {run.on_n1, restarted}) {
    for (pid_t pid : values(pids)) actors.push_back(pid);
  }
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "relay-two-nodes", run.file, actors);
}

// An actor on another node that has ended for good is gone for good on
// every node: a question to it fails at once, as on one host (no_such_actor,
// or actor_died for the one it had in hand). Before, its node dropped the
// questions that reached it, and each waited out its timeout.
TEST_CASE("questions to an actor on the other node that has ended for good fail at once and none waits its timeout" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("gone_ask_two_nodes.toml"), "gone-ask-two-nodes", 1);
  REQUIRE(run.on_n1.contains("replier.0"));
  REQUIRE(::kill(run.on_n1.at("replier.0"), SIGKILL) == 0);
  // Three failures in a row end the asking (each would take 60 s, the
  // questions' timeout, if it waited it out).
  run.launch->wait_for_output("asker.0 | asked replier.0 1000000 questions of 64 bytes: ", 240s);
  const int code = run.launch->wait(240s);
  const std::string out = run.launch->out();
  MESSAGE("the launch exited with code " << code);
  std::vector<std::string> failures;
  for (const auto& line : lines_of(out)) {
    if (line.starts_with("asker.0 | question ") && line.find(" to replier.0 failed: ") != std::string::npos) {
      failures.push_back(line);
    }
  }
  CHECK_MESSAGE(failures.size() == 3, out);
  for (const auto& line : failures) {
    CHECK_MESSAGE(line.find("timeout") == std::string::npos, line);
    CHECK_MESSAGE((line.find(": no such actor") != std::string::npos || line.find(": actor died") != std::string::npos),
                  line);
  }
  check_nothing_dropped(run.launch->err());
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "gone-ask-two-nodes", run.file, run.actors());
}

// An actor on another node that has ended for good (temporary, killed) is
// left out of its senders' routes, as on one host: the source goes on, its
// ticks go to the other relay, and what was already on its way to the
// ended one becomes that one's dead letters on its node, counted in the
// node's last line. Before, the source's emit failed with no_such_actor,
// its restarts gave up and the run failed (and before that, the emits went
// on and the node dropped them).
TEST_CASE(
    "an emit to an actor on the other node that has ended for good goes to the other targets and nothing is "
    "dropped" *
    doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("gone_emit_two_nodes.toml"), "gone-emit-two-nodes", 2);
  REQUIRE(run.on_n1.contains("relay.0"));
  REQUIRE(::kill(run.on_n1.at("relay.0"), SIGKILL) == 0);
  run.launch->wait_for_output(
      "source.0 | procactor: source.0: relay.0 has ended for good: what this actor emits on that route goes to its "
      "other targets",
      120s);
  run.launch->signal(SIGINT);
  const int code = run.launch->wait(240s);
  const std::string out = run.launch->out();
  const std::string err = run.launch->err();
  CHECK_MESSAGE(code == 0, out, err);
  CHECK(out.find("gave up") == std::string::npos);
  CHECK(count_of(out, "source.0 exited") == 1);
  // Each tick reached the sink but those that became relay.0's dead letters
  // (its queue at the kill, and those on their way to it): at most one
  // more, the one relay.0 had in hand, passed on before the kill and
  // counted among its queue too.
  const long emitted = number_after(out, "source.0 | emitted: ");
  const std::string n1_end = "procactor@n1 | graph gone-emit-two-nodes stopped after ";
  const std::size_t end = out.find(n1_end);
  REQUIRE_MESSAGE(end != std::string::npos, out);
  const std::string last = out.substr(end, out.find('\n', end) - end);
  // None when relay.0 had nothing queued or on its way when it was killed.
  std::smatch counted;
  const long lost =
      std::regex_search(last, counted, std::regex(R"(became (a dead letter|dead letters) \(relay\.0 ([0-9]+))"))
          ? std::stol(counted[2])
          : 0;
  const std::string sink_line = "sink.0 | ticks: ";
  const std::size_t ticks_at = out.find(sink_line);
  REQUIRE_MESSAGE(ticks_at != std::string::npos, out);
  long distinct = 0;
  long highest = 0;
  long never = 0;
  REQUIRE(std::sscanf(out.c_str() + ticks_at + sink_line.size(), "%ld distinct, highest %ld, missing %ld", &distinct,
                      &highest, &never) == 3);
  MESSAGE("emitted " << emitted << ", the sink had " << distinct << ", relay.0's dead letters " << lost);
  CHECK_MESSAGE(highest == emitted, out);
  CHECK_MESSAGE(emitted - distinct <= lost, out);
  CHECK_MESSAGE(lost <= emitted - distinct + 1, out);
  check_nothing_dropped(err);
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "gone-emit-two-nodes", run.file, run.actors());
}

// Once every target of a route on another node has ended, what the route
// carries becomes dead letters on the sender's node, counted in that node's
// last line (before, in no line: only `inspect` of the sender's node showed
// them); what was on its way counts on the targets' node.
TEST_CASE("emits to actors on the other node that have all ended are dead letters counted on the sender's node" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("gone_emit_two_nodes.toml"), "gone-emit-two-nodes", 2);
  REQUIRE(::kill(run.on_n1.at("relay.0"), SIGKILL) == 0);
  run.launch->wait_for_output("source.0: relay.0 has ended for good: ", 120s);
  REQUIRE(::kill(run.on_n1.at("relay.1"), SIGKILL) == 0);
  run.launch->wait_for_output(
      "source.0: relay.1 has ended for good: what this actor emits on that route becomes "
      "dead letters, as no target of it is left",
      120s);
  run.launch->wait_for_output("sink.0 | ticks: ", 120s);  // its input has ended with both relays
  run.launch->signal(SIGINT);
  const int code = run.launch->wait(240s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 0, out, run.launch->err());
  const long emitted = number_after(out, "source.0 | emitted: ");
  const long distinct = number_after(out, "sink.0 | ticks: ");
  // Each node's last line: "...; N messages became dead letters (relay.0 A, relay.1 B; ...".
  std::map<std::string, long> on;  // dead letters of the relays counted by each node
  for (const std::string node : {"n0", "n1"}) {
    const std::string start = "procactor@" + node + " | graph gone-emit-two-nodes stopped after ";
    const std::size_t at = out.find(start);
    REQUIRE_MESSAGE(at != std::string::npos, out);
    const std::string last = out.substr(at, out.find('\n', at) - at);
    const std::regex relay(R"(relay\.[01] ([0-9]+))");
    for (auto it = std::sregex_iterator(last.begin(), last.end(), relay); it != std::sregex_iterator(); ++it) {
      on[node] += std::stol((*it)[1]);
    }
  }
  MESSAGE("emitted " << emitted << ", the sink had " << distinct << ", dead letters counted on n0 " << on["n0"]
                     << " and on n1 " << on["n1"]);
  CHECK(on["n0"] > 0);
  // Each tick reached the sink or is a dead letter; a relay killed with a
  // tick in hand may have passed it on too.
  CHECK(emitted - distinct <= on["n0"] + on["n1"]);
  CHECK(on["n0"] + on["n1"] <= emitted - distinct + 2);
  check_nothing_dropped(run.launch->err());
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "gone-emit-two-nodes", run.file, run.actors());
}

// A node ended by SIGTERM (how mpirun ends a job) tells the others that it
// fails before it stops its actors: they stop at once and fail too. Before,
// they took the end of its actors for the end of their input: they drained,
// ran on_stop (a sink's partial total, as if final) and recorded that the
// graph finished, exit code 0.
TEST_CASE("a node ended by SIGTERM fails the other node too which does not take it for the end of its input" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("endless_two_nodes.toml"), "endless-two-nodes", 2);
  const pid_t n0 = node_supervisor(box, "endless-two-nodes", "n0");
  REQUIRE(n0 > 0);
  REQUIRE(::kill(n0, SIGTERM) == 0);
  const int code = run.launch->wait(120s);
  CHECK_MESSAGE(code == 1, run.launch->out(), run.launch->err());
  const fs::path n1 = box.runs_root() / "endless-two-nodes-n1";
  REQUIRE(eventually([&] { return fs::exists(n1 / "exit"); }, 60s));
  CHECK(read_whole(n1 / "exit") == "1\n");
  const std::string log = read_whole(n1 / "run.log");
  CHECK_MESSAGE(log.find(" | stopping now: ") != std::string::npos, log);
  CHECK_MESSAGE(log.find(" finished in ") == std::string::npos, log);
  CHECK_MESSAGE(log.find("sink.0 | total: ") == std::string::npos, log);
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", run.file, run.actors());
}

TEST_CASE("Ctrl-C stops a graph on two nodes in order and leaves nothing behind" * doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("endless_two_nodes.toml"), "endless-two-nodes", 2);
  for (const std::string& node : nodes) {
    const pid_t supervisor = node_supervisor(box, "endless-two-nodes", node);
    REQUIRE(is_alive(supervisor));
    REQUIRE(!segments_of(supervisor).empty());
    REQUIRE(actors_of(supervisor).size() == 2);
    // The gateway's module brought MPI into the node supervisor after its
    // fork server started: the node's actors never mapped it.
    CHECK(maps_file(supervisor, "libprocactor_mpi.so"));
    CHECK(maps_file(supervisor, "libmpi.so"));
    for (pid_t actor : actors_of(supervisor)) CHECK_MESSAGE(!maps_file(actor, "libmpi.so"), actor);
    // Open MPI's POSIX shared memory left out: each rank's MPI_Init made
    // /dev/shm/open_mpi.NNNN and removed it at once, so a node killed in
    // its start-up left the file (the suite left one now and then).
    CHECK(environment_value(supervisor, "OMPI_MCA_shmem") == std::optional<std::string>("mmap"));
  }

  run.launch->signal(SIGINT);
  const int code = run.launch->wait(240s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 0, out, run.launch->err());
  CHECK(out.find("procactor | interrupted: stopping the graph on every node (again to force)\n") != std::string::npos);
  // The end of stream crossed the nodes: the sink on n1 reported once its
  // relays (one per node) had finished, after the source on n0.
  CHECK_MESSAGE(number_after(out, "sink.0 | total: ") > 0, out);
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | graph endless-two-nodes stopped after ") == 1, out);
  }
  // Each node got the stop twice (mpirun's SIGUSR1, and the other node's
  // word): once is an ordered stop, and so is twice.
  CHECK_MESSAGE(out.find("stopping now") == std::string::npos, out);
  check_nothing_dropped(run.launch->err());
  CHECK_MESSAGE(out.find("passed: stopping the rest") == std::string::npos, out);
  CHECK(out.find(" failed after ") == std::string::npos);
  // mpirun's word that it passed the signal on stays in the run's log.
  CHECK_MESSAGE(run.launch->err().find("Forwarding signal") == std::string::npos, run.launch->err());
  CHECK(run.launch->err().find("\n\n") == std::string::npos);

  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", run.file, run.actors());
}

// A page open on the dashboard of `launch --http` learns how a run on two
// nodes ended: the launch waits (at most 2.5 s) for a page that polls to
// get the run's end before it exits, as a one-host launch does. It did
// not: the page lost the server and said "disconnected".
TEST_CASE("a page polling the dashboard of a run on two nodes gets the run's end before the launch exits" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  auto launch = box.start({"launch", "--http", "127.0.0.1:0", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  launch->wait_for_output("procactor@n0 | 2 actors ready in ", 120s);
  launch->wait_for_output("procactor@n1 | 2 actors ready in ", 120s);
  const std::string said = launch->out();
  const auto at = said.find("dashboard at http://");
  REQUIRE_MESSAGE(at != std::string::npos, said);
  const std::string url = said.substr(at + 13, said.find(' ', at + 13) - (at + 13));
  // A page: /api/status every 0.2 s, until the run is no longer live (as
  // the dashboard's own page, it waits out a 503 of a run not sampled yet).
  auto page =
      box.start_program({"/usr/bin/python3", "-c",
                         "import json, sys, time, urllib.error, urllib.request\n"
                         "first = True\n"
                         "while True:\n"
                         "    try:\n"
                         "        body = json.load(urllib.request.urlopen(sys.argv[1] + 'api/status', timeout=10))\n"
                         "    except urllib.error.HTTPError as e:\n"
                         "        if e.code != 503:\n"  // 503: the run has not answered the dashboard yet
                         "            print('lost:', e); sys.exit(1)\n"
                         "        body = {}\n"
                         "    except Exception as e:\n"
                         "        print('lost:', e); sys.exit(1)\n"
                         "    if first:\n"
                         "        print('open', flush=True); first = False\n"
                         "    if body.get('live') is False:\n"
                         "        print(body.get('run_state'), body.get('exit_code')); sys.exit(0)\n"
                         "    time.sleep(0.2)\n",
                         url});
  // Open (it has asked once) before the run ends: a launch that has not
  // been asked for 5 s by then takes no page to be open, and waits for none.
  page->wait_for_output("open\n", 120s);
  const result stopped = box.procactor({"stop", "endless-two-nodes"}, 240s);
  CHECK_MESSAGE(stopped.exit_code == 0, stopped.out, stopped.err);
  CHECK(launch->wait(240s) == 0);
  CHECK(page->wait(60s) == 0);
  CHECK_MESSAGE(page->out() == "open\nended 0\n", page->out(), page->err());
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", file);
}

TEST_CASE("a Ctrl-C before the nodes are ready stops the graph on both in order once they are" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  auto launch = box.start({"launch", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  // mpirun is started once the launch has set up its signals; the nodes
  // come up after it, and set up theirs later still.
  REQUIRE(eventually([&] { return !mpirun_of(file).empty() || launch->poll().has_value(); }, 120s));
  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  // Held until both were ready (unless they were by the time it came).
  CHECK_MESSAGE(
      (out.find("procactor | interrupted: the graph stops on every node once all have started (again to force)\n") !=
           std::string::npos ||
       out.find("procactor | interrupted: stopping the graph on every node (again to force)\n") != std::string::npos),
      out);
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | graph endless-two-nodes stopped after ") == 1, out);
  }
  CHECK_MESSAGE(out.find("stopping now") == std::string::npos, out);
  CHECK(out.find(" failed after ") == std::string::npos);
  CHECK_MESSAGE(launch->err().find("exited on signal") == std::string::npos, launch->err());
  check_nothing_dropped(launch->err());
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", file);
}

// `procactor stop` went to node 0 at once: it stopped with nothing started,
// the other node never got the end of stream, and the launch failed 12 s
// later. It is held until every node is ready, as a Ctrl-C is.
TEST_CASE("a procactor stop before the nodes are ready is held and stops both nodes in order once they are" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  auto launch = box.start({"launch", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  // The control socket is served once mpirun is started; the nodes come
  // up after it.
  const fs::path socket = control_socket(box, "endless-two-nodes");
  REQUIRE(eventually([&] { return fs::exists(socket) || launch->poll().has_value(); }, 120s));
  const result stop = box.procactor({"stop", "endless-two-nodes"}, 240s);
  CHECK_MESSAGE(stop.exit_code == 0, stop.out, stop.err);
  CHECK(stop.out == "stopped run endless-two-nodes\n");
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  // Held until both were ready (unless they were by the time it came).
  const std::string waits = "procactor | stop requested: the graph stops on every node once all have started\n";
  const bool held = out.find(waits) != std::string::npos;
  MESSAGE("the stop was held: " << held);
  if (held) {
    CHECK_MESSAGE(out.find("procactor | stop requested: stopping the graph on every node\n") != std::string::npos, out);
  }
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | graph endless-two-nodes stopped after ") == 1, out);
  }
  CHECK_MESSAGE(number_after(out, "sink.0 | total: ") >= 0, out);
  CHECK_MESSAGE(out.find("stopping now") == std::string::npos, out);
  CHECK_MESSAGE(out.find("passed: stopping the rest") == std::string::npos, out);
  CHECK(out.find(" failed after ") == std::string::npos);
  check_nothing_dropped(launch->err());
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", file);
}

// On one host the last line says why supervision gave up; on two nodes
// it said only that the run failed, the node's reason lines above it.
TEST_CASE("a node whose supervision gives up fails the launch with a last line that names the node and why" *
          doctest::timeout(290)) {
  sandbox box;
  std::string text = read_whole(box.copy_graph("crashy_two_nodes.toml"));
  const std::string room = "max_restarts = 1000";
  REQUIRE(text.find(room) != std::string::npos);
  text.replace(text.find(room), room.size(), "max_restarts = 2");
  const fs::path file = box.write("gives_up_two_nodes.toml", text);
  auto launch = box.start({"launch", file.string()});
  const mpirun_guard guard(file);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 1, out, launch->err());
  const auto lines = lines_of(out);
  REQUIRE(!lines.empty());
  CHECK_MESSAGE(
      std::regex_match(lines.back(),
                       std::regex(R"(procactor \| run crashy-two-nodes failed after [0-9.]+ s \(exit code 1\): )"
                                  R"(node n[01]: \[supervisor\] gave up \(more than 2 restarts within [^)]+\); )"
                                  R"(the last exit was worker\.[01]'s \(signal 6 \(Aborted\)\))")),
      out);
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "crashy-two-nodes", file);
}

TEST_CASE("a node that mpirun cannot start fails the launch with a line that names it and its host" *
          doctest::timeout(290)) {
  sandbox box;
  std::ostringstream read;
  read << std::ifstream(box.copy_graph("endless_two_nodes.toml")).rdbuf();
  std::string text = read.str();
  const std::string n1 = R"({ name = "n1", host = "localhost" })";
  const std::size_t at = text.find(n1);
  REQUIRE(at != std::string::npos);
  text.replace(at, n1.size(), R"({ name = "n1", host = "no-such-host.invalid" })");
  const fs::path file = box.write("unreachable.toml", text);
  auto launch = box.start({"launch", file.string()});
  const mpirun_guard guard(file);
  CHECK(launch->wait(240s) == 1);
  const std::string out = launch->out();
  CHECK_MESSAGE(std::regex_search(out, std::regex(R"((?:^|\n)procactor \| mpirun (exited with status [0-9]+|ended by signal [0-9]+) )"
                                                  R"(before every node was ready; not ready: nodes? [^\n]*)"
                                                  R"(n1 \(host no-such-host\.invalid\) \(the messages above say why\)\n)")),
                out, launch->err());
  CHECK_MESSAGE(out.find("procactor | run endless-two-nodes failed after ") != std::string::npos, out);
  check_run_left_nothing(launch->pid());
  std::vector<pid_t> left;
  CHECK_MESSAGE(eventually([&] { return (left = processes_with_cmdline(file.string())).empty(); }, 60s), left.size(),
                " processes still name ", file);
}

TEST_CASE("a node started outside mpirun says why it cannot run and leaves nothing behind" * doctest::timeout(290)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  const result r = box.procactor({"node", "--node", "n0", file.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.out.find("cannot join the other nodes: this is MPI rank 0 of 1, but node n0 is number 0 of the "
                           "graph's 2") != std::string::npos,
                r.out, r.err);
  CHECK_MESSAGE(r.err.find("terminate called") == std::string::npos, r.err);
  check_run_left_nothing(node_supervisor(box, "endless-two-nodes", "n0"));
  // A graph for one host has no nodes at all: said so.
  const result plain = box.procactor({"node", "--node", "n0", box.copy_graph("endless.toml").string()});
  CHECK(plain.exit_code == 2);
  CHECK_MESSAGE(plain.err.starts_with("procactor: error: the graph has no [cluster]: node n0 is one node of a graph "
                                      "placed on several"),
                plain.err);
}

TEST_CASE("a node supervisor killed with kill -9 ends the launch with a failure and leaves nothing behind" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("endless_two_nodes.toml"), "endless-two-nodes", 2);
  // The node supervisor: `procactor node --node n1 FILE`, as mpirun
  // started it (its fork server, forked from it, has the same command
  // line), and the pid in its run directory.
  const pid_t n1 = node_supervisor(box, "endless-two-nodes", "n1");
  const auto named = processes_with_cmdline(" node --node n1 " + run.file.string());
  REQUIRE_MESSAGE(std::find(named.begin(), named.end(), n1) != named.end(), "node n1 is not pid ", n1);
  // Told what replicas = "auto" is: this host's core count.
  const auto told = processes_with_cmdline(" node --node n1 " + run.file.string() + " --auto-replicas " +
                                           std::to_string(std::max(1U, std::thread::hardware_concurrency())));
  CHECK(std::find(told.begin(), told.end(), n1) != told.end());

  // The launch keeps each node's last answer to a status: once n1 is
  // lost, its instances keep in the run's last table what they had
  // handled, where n0's view of them has nothing.
  std::string seen;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        const result r = box.procactor({"status", "endless-two-nodes", "--json"});
                        seen = r.out;
                        const auto status = nlohmann::json::parse(r.out, nullptr, false);
                        if (status.is_discarded() || !status.contains("actors")) return false;
                        for (const auto& row : status["actors"]) {
                          if (row["name"] == "worker.1") return row["processed"].get<std::uint64_t>() > 0;
                        }
                        return false;
                      },
                      120s),
                  seen);

  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(n1, SIGKILL) == 0);
  // A generous deadline, so that a hang fails the test; how long the exit
  // took is reported, not asserted.
  const int code = run.launch->wait(60s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  MESSAGE("procactor launch exited with code " << code << " " << took << " s after node n1 was killed");
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code != 0, out, run.launch->err());
  CHECK(out.find("procactor@n1 | graph endless-two-nodes") == std::string::npos);
  // The last lines name the node that was killed, as mpirun says, and the
  // node that sent no last status.
  CHECK_MESSAGE(out.find("\nprocactor | node n1 (host localhost) exited on signal 9 (Killed), says mpirun\n") !=
                    std::string::npos,
                out);
  CHECK_MESSAGE(std::regex_search(out, std::regex(R"(\nprocactor \| mpirun [^\n]*; no last status from nodes? [^\n]*)"
                                                  R"(n1 \(host localhost\): lost, or killed\n)")),
                out);
  // `status` of the ended run says the same: n0's last table (if mpirun
  // let it send one before it ended the job, else the last it gave) with
  // n1's instances lost, as n1 last gave them.
  const result ended = box.procactor({"status", "endless-two-nodes"});
  CHECK(ended.exit_code == 3);
  const bool n0_sent = out.find("; no last status from node n1 (host localhost)") != std::string::npos;
  MESSAGE("node n0 sent its last table: " << n0_sent);
  CHECK_MESSAGE(std::regex_search(ended.out, std::regex(R"(\nworker\.1 +clitest\.Relay +n1 +- +lost )")), ended.out);
  CHECK_MESSAGE(ended.out.find("\nno last status from node n1: lost, or killed\n") != std::string::npos, ended.out);
  const result ended_json = box.procactor({"status", "endless-two-nodes", "--json"});
  const auto last_table = nlohmann::json::parse(ended_json.out, nullptr, false);
  REQUIRE_MESSAGE(last_table.is_object(), ended_json.out);
  for (const auto& row : last_table["actors"]) {
    if (row["name"] == "worker.1") CHECK_MESSAGE(row["processed"].get<std::uint64_t>() > 0, ended_json.out);
  }
  CHECK_MESSAGE(std::regex_search(ended.out, std::regex(R"((^|\n)run endless-two-nodes ended at [^\n]* with exit code 1)")),
                ended.out);

  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", run.file, run.actors());
}

TEST_CASE(
    "a detached run on two nodes is operated from the launching host: status and kill and inspect and restart and logs "
    "and stop" *
    doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  const detached_run run = launch_detached(box, file);
  const mpirun_guard guard(file);
  CHECK(run.name == "endless-two-nodes");

  // The whole run's status: every instance, each as the node that runs it
  // sees it, the same pids as the nodes' own runs report.
  const auto pids = running_instances(box, run.name, 4);
  auto on_nodes = running_instances(box, run.name + "-n0", 2);
  on_nodes.merge(running_instances(box, run.name + "-n1", 2));
  CHECK(pids == on_nodes);
  const result table = box.procactor({"status", run.name});
  REQUIRE_MESSAGE(table.exit_code == 0, table.err);
  CHECK_MESSAGE(std::regex_search(table.out, std::regex(R"(\nworker\.1 +clitest\.Relay +n1 +[0-9]+ +running )")),
                table.out);
  CHECK_MESSAGE(std::regex_search(table.out, std::regex(R"(\nsource\.0 +clitest\.Ticker +n0 +[0-9]+ +running )")),
                table.out);
  // Without a name, status finds the whole run, never a node's part of it.
  const result unnamed = box.procactor({"status", "--json"});
  REQUIRE_MESSAGE(unnamed.exit_code == 0, unnamed.err);
  CHECK(nlohmann::json::parse(unnamed.out)["run"] == run.name);
  // Its schema and its edges, as a one-host run's: each route, with the
  // messages handled along it on either node (worker.0 on n0 sends to the
  // sink on n1).
  CHECK(nlohmann::json::parse(unnamed.out)["schema"] == 1);
  std::string edges_seen;
  CHECK_MESSAGE(eventually(
                    [&] {
                      const result r = box.procactor({"status", run.name, "--json"});
                      const auto status = nlohmann::json::parse(r.out, nullptr, false);
                      if (status.is_discarded() || !status.contains("edges")) return false;
                      edges_seen = status["edges"].dump();
                      std::vector<std::string> moving;
                      for (const auto& edge : status["edges"]) {
                        if (edge["messages"].get<std::uint64_t>() > 0) {
                          moving.push_back(edge["from"].get<std::string>() + ">" + edge["to"].get<std::string>() +
                                           ":" + edge["policy"].get<std::string>());
                        }
                      }
                      return moving == std::vector<std::string>{"source>worker:round_robin", "worker>sink:round_robin"};
                    },
                    120s),
                edges_seen);

  // kill -9 of an instance on n1, from here: n1 restarts it.
  const pid_t victim = pids.at("worker.1");
  const result killed = box.procactor({"kill", run.name, "worker.1"});
  REQUIRE_MESSAGE(killed.exit_code == 0, killed.err);
  CHECK(killed.out == "sent SIGKILL to worker.1 (pid " + std::to_string(victim) + " on node n1)\n");
  std::string last;
  CHECK_MESSAGE(eventually(
                    [&] {
                      const result r = box.procactor({"status", run.name, "--json"});
                      last = r.out;
                      const auto status = nlohmann::json::parse(r.out, nullptr, false);
                      if (status.is_discarded()) return false;
                      for (const auto& row : status["actors"]) {
                        if (row["name"] == "worker.1") {
                          return row["restarts"] == 1 && row["state"] == "running" && row["pid"] != victim &&
                                 row["node"] == "n1";
                        }
                      }
                      return false;
                    },
                    120s),
                last);
  // Its exit, recorded on n1, inspected from here.
  const result inspected = box.procactor({"inspect", run.name, "worker.1", "--json"});
  REQUIRE_MESSAGE(inspected.exit_code == 0, inspected.err);
  const auto report = nlohmann::json::parse(inspected.out);
  REQUIRE(report["instances"].size() == 1);
  CHECK(report["instances"][0]["name"] == "worker.1");
  CHECK(report["instances"][0]["node"] == "n1");
  REQUIRE(report["instances"][0]["exits"].size() == 1);
  CHECK(report["instances"][0]["exits"][0]["signal"] == 9);
  // n0's own part of the run has only a mailbox for it: it says so, and
  // where the instance runs.
  const result on_n0 = box.procactor({"inspect", run.name + "-n0", "worker.1"});
  REQUIRE_MESSAGE(on_n0.exit_code == 0, on_n0.err);
  CHECK_MESSAGE(on_n0.out.starts_with("worker.1 (clitest.Relay, group root, node n1): remote: it runs on node n1, "),
                on_n0.out);
  // Its restarts and what it handled are counted on n1: n0's table has
  // none of them, only its mailbox there.
  const result n0_table = box.procactor({"status", run.name + "-n0"});
  REQUIRE_MESSAGE(n0_table.exit_code == 0, n0_table.err);
  CHECK_MESSAGE(
      std::regex_search(n0_table.out,
                        std::regex(R"(\nworker\.1 +clitest\.Relay +n1 +- +remote +- +- +- +- +[0-9]+% +- +-( |\n))")),
      n0_table.out);
  CHECK_MESSAGE(n0_table.out.find("\nremote: an instance on another node") != std::string::npos, n0_table.out);
  // The run's events on this host have n1's: worker.1's exit and restart,
  // with its node.
  const auto n1_event = [&](const std::string& kind) {
    const result r = box.procactor({"events", run.name, "--json"});
    last = r.out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const auto event = nlohmann::json::parse(line, nullptr, false);
      if (event.is_object() && event.value("kind", "") == kind && event.value("actor", "") == "worker.1" &&
          event.value("node", "") == "n1" && (kind != "exited" || event.value("pid", 0) == victim)) {
        return true;
      }
    }
    return false;
  };
  CHECK_MESSAGE(eventually([&] { return n1_event("exited") && n1_event("restarting"); }, 120s), last);
  const result events = box.procactor({"events", run.name});
  CHECK_MESSAGE(std::regex_search(events.out, std::regex("\n[^\n]* exited +worker\\.1 +pid " + std::to_string(victim) +
                                                         " on n1: signal 9")),
                events.out);

  // A graceful restart of the sink on n1 runs its on_stop, whose report
  // reaches the sink's log on this host.
  const result restarted = box.procactor({"restart", run.name, "sink"});
  REQUIRE_MESSAGE(restarted.exit_code == 0, restarted.err);
  CHECK_MESSAGE(eventually(
                    [&] {
                      last = box.procactor({"logs", run.name, "sink.0"}).out;
                      return last.find("total: ") != std::string::npos;
                    },
                    120s),
                last);

  // What no node runs is refused here, as on one host.
  const result unknown = box.procactor({"kill", run.name, "worker.7"});
  CHECK(unknown.exit_code == 3);
  CHECK_MESSAGE(unknown.err.find("no actor 'worker.7' in run endless-two-nodes") != std::string::npos, unknown.err);

  // An ordered stop across both nodes, asked from here.
  const result stopped = box.procactor({"stop", run.name}, 240s);
  CHECK_MESSAGE(stopped.exit_code == 0, stopped.out, stopped.err);
  const result after = box.procactor({"status", run.name});
  CHECK(after.exit_code == 3);
  // `inspect` of the ended run, here, as of a one-host run: the exits each
  // node recorded (worker.1's kill on n1), as they were at the end.
  const result last_inspect = box.procactor({"inspect", run.name, "worker.1", "--json"});
  CHECK_MESSAGE(last_inspect.exit_code == 3, last_inspect.out, last_inspect.err);
  const auto ended_report = nlohmann::json::parse(last_inspect.out, nullptr, false);
  REQUIRE_MESSAGE(ended_report.is_object(), last_inspect.out, last_inspect.err);
  CHECK(ended_report["run"] == run.name);
  REQUIRE(ended_report["instances"].size() == 1);
  CHECK(ended_report["instances"][0]["node"] == "n1");
  const auto& ended_exits = ended_report["instances"][0]["exits"];
  CHECK_MESSAGE(std::any_of(ended_exits.begin(), ended_exits.end(),
                            [](const nlohmann::json& exit) { return exit.value("signal", 0) == 9; }),
                last_inspect.out);
  std::ifstream exit_file(box.runs_root() / run.name / "exit");
  int exit_code = -1;
  exit_file >> exit_code;
  CHECK(exit_code == 0);
  const std::string log = box.procactor({"logs", run.name}).out;
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(log, "procactor@" + node + " | graph endless-two-nodes stopped after ") == 1, log);
  }
  CHECK_MESSAGE(count_of(log, "procactor | 4 actors ready on 2 nodes in ") == 1, log);
  CHECK_MESSAGE(log.find("passed: stopping the rest") == std::string::npos, log);

  check_run_left_nothing(run.supervisor);
  check_nodes_left_nothing(box, "endless-two-nodes", file, values(pids));
}

TEST_CASE("two runs of one graph on two nodes at once each name their nodes' runs after their own" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  const detached_run first = launch_detached(box, file);
  const detached_run second = launch_detached(box, file);
  const mpirun_guard guard(file);
  CHECK(first.name == "endless-two-nodes");
  CHECK(second.name == "endless-two-nodes-2");
  // The second run's part on each node is RUN-NODE, and each launching
  // run's table is its own nodes' instances.
  const auto first_pids = running_instances(box, first.name, 4);
  const auto second_pids = running_instances(box, second.name, 4);
  auto on_nodes = running_instances(box, second.name + "-n0", 2);
  on_nodes.merge(running_instances(box, second.name + "-n1", 2));
  CHECK(second_pids == on_nodes);
  on_nodes = running_instances(box, first.name + "-n0", 2);
  on_nodes.merge(running_instances(box, first.name + "-n1", 2));
  CHECK(first_pids == on_nodes);
  // A node's run, asked for an instance of the other node, names the runs
  // that have it.
  const result elsewhere = box.procactor({"kill", second.name + "-n0", "worker.1"});
  CHECK(elsewhere.exit_code != 0);
  CHECK_MESSAGE(elsewhere.err.find("act on it through run endless-two-nodes-2 on the host that launched it, or run "
                                   "endless-two-nodes-2-n1 on node n1's host") != std::string::npos,
                elsewhere.err);

  for (const detached_run& run : {first, second}) {
    const result stopped = box.procactor({"stop", run.name}, 240s);
    CHECK_MESSAGE(stopped.exit_code == 0, run.name, stopped.out, stopped.err);
  }
  check_run_left_nothing(first.supervisor);
  check_run_left_nothing(second.supervisor);
  check_nodes_left_nothing(box, first.name, file, values(first_pids));
  check_nodes_left_nothing(box, second.name, file, values(second_pids));
}

TEST_CASE("the launching process of a run on two nodes killed with kill -9 takes the whole run with it" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path base = box.dir() / "mpi";
  const fs::path file = box.write("endless_own_sessions.toml",
                                  with_session_base(read_whole(box.copy_graph("endless_two_nodes.toml")), base));
  const detached_run run = launch_detached(box, file);
  const mpirun_guard guard(file);
  const auto pids = running_instances(box, run.name, 4);
  const auto mpirun = mpirun_of(file);
  REQUIRE(mpirun.size() == 1);
  REQUIRE(!mpi_sessions_of(mpirun.front(), base).empty());

  // mpirun dies with it (PR_SET_PDEATHSIG), and ends the nodes.
  REQUIRE(::kill(run.supervisor, SIGKILL) == 0);
  check_run_left_nothing(run.supervisor);
  check_nodes_left_nothing(box, "endless-two-nodes", file, values(pids));
  // mpirun's session directory goes once mpirun has ended: the launch's
  // sweeper removes what mpirun, ended by SIGTERM, may leave.
  CHECK(eventually([&] { return mpirun_of(file).empty(); }, 60s));
  CHECK(eventually([&] { return mpi_sessions_of(mpirun.front(), base).empty(); }, 30s));
  check_mpi_session_removed(mpirun.front(), base);
  check_session_base_empty(base);
  // The run is news: its supervisor died before it recorded an exit.
  const result status = box.procactor({"status", run.name});
  CHECK(status.exit_code == 1);
  CHECK_MESSAGE(status.err.find("died") != std::string::npos, status.err);
}

// Between a node's last status and the end of the run, the node answers
// nothing more: a status asked then said "node n0, n1 did not answer" and
// failed, and a watch ended on it instead of on the run's last table. The
// launch answers for such a node with its last status.
TEST_CASE("status --watch of a run on two nodes goes on through the stop and ends with the run's last table" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  const detached_run run = launch_detached(box, file);
  const mpirun_guard guard(file);
  (void)running_instances(box, run.name, 4);
  auto watch = box.start({"status", "--watch", run.name});
  const std::string title = "run " + run.name + " (graph endless-two-nodes)";
  REQUIRE_MESSAGE(eventually([&] { return count_of(watch->out(), title) >= 1; }, 120s), watch->out());
  // Plain status, asked over and over while the run stops.
  auto stop = box.start({"stop", run.name});
  std::vector<std::string> failures;
  while (!stop->poll()) {
    const result asked = box.procactor({"status", run.name});
    if (asked.exit_code != 0 && asked.exit_code != 3) failures.push_back(asked.err);
  }
  CHECK(*stop->poll() == 0);
  CHECK_MESSAGE(failures.empty(), failures.size(), " failed: ", failures.empty() ? "" : failures.front());
  CHECK(watch->wait(120s) == 3);
  const std::string out = watch->out();
  CHECK_MESSAGE(out.find("did not answer") == std::string::npos, out);
  CHECK_MESSAGE(out.find("run " + run.name + " ended at ") != std::string::npos, out);
  check_run_left_nothing(run.supervisor);
  check_nodes_left_nothing(box, "endless-two-nodes", file);
}

// A stop or a restart asked while a run on two nodes ends: they went to
// the nodes, which answer nothing once their part has ended, and said
// "node n0 did not answer" (exit 1). A one-host run says that it is
// stopping, or that it has ended (exit code 3). Here a wrapper holds
// mpirun's end, after the nodes', until the test has asked.
TEST_CASE("a second stop and a restart while a run on two nodes ends get the answers of a one-host run" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("endless_two_nodes.toml");
  const fs::path bin = box.dir() / "held-mpirun";
  fs::create_directories(bin);
  const fs::path asked = box.dir() / "asked";
  const char* path = std::getenv("PATH");
  const std::string real_path = path != nullptr ? path : "/usr/bin:/bin";
  const std::string script = "#!/bin/sh\nPATH='" + real_path + "' mpirun \"$@\"\ncode=$?\nwhile [ ! -e '" +
                             asked.string() + "' ]; do sleep 0.05; done\nexit $code\n";
  const fs::path wrapper = box.write("held-mpirun/mpirun", script);
  fs::permissions(wrapper, fs::perms::owner_all);
  auto launch = box.start_program(
      {"/usr/bin/env", "PATH=" + bin.string() + ":" + real_path, procactor_binary().string(), "launch", file.string()});
  const mpirun_guard guard(file);
  launch->wait_for_output("procactor | 4 actors ready on 2 nodes in ", 120s);
  const fs::path socket = control_socket(box, "endless-two-nodes");
  CHECK(control_exchange(socket, "stop\n") == "ok\n");
  // A restart now would start again what the stop is ending.
  const result restart = box.procactor({"restart", "endless-two-nodes", "worker.1"});
  CHECK(restart.exit_code == 1);
  CHECK(restart.err == "procactor: error: run endless-two-nodes is stopping: it restarts nothing now\n");
  // Both nodes have ended (their last status has come before these
  // lines), and mpirun has not.
  for (const std::string& node : nodes) {
    launch->wait_for_output("procactor@" + node + " | graph endless-two-nodes stopped after ", 120s);
  }
  CHECK(control_exchange(socket, "stop\n") == "error: run endless-two-nodes has ended\n");
  CHECK(control_exchange(socket, "restart worker.1\n") ==
        "error: run endless-two-nodes is stopping: it restarts nothing now\n");
  CHECK(control_exchange(socket, "kill sink.0 9\n") == "error: run endless-two-nodes has ended\n");
  std::ofstream(asked.string()) << "asked\n";
  const int code = launch->wait(120s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 0, out, launch->err());
  // Asked once it has ended: the one-host answer, exit code 3.
  const result again = box.procactor({"stop", "endless-two-nodes"});
  CHECK(again.exit_code == 3);
  CHECK(again.err == "procactor: run endless-two-nodes is not running (it ended with exit code 0)\n");
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", file);
}

// An mpirun that does not end is not waited on for good: the launch ends
// it (SIGTERM, then SIGKILL to its process group), and its nodes end with
// it. Two ways an mpirun stays: it runs on after its job has ended (here a
// wrapper on PATH runs the real one, then ignores SIGTERM and sleeps), or
// it is stopped (SIGSTOP) while Ctrl-C asks it to end.
TEST_CASE("an mpirun that does not end once the nodes have finished is ended by the launch and the run fails" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path file = box.copy_graph("primes_two_nodes.toml");
  const fs::path bin = box.dir() / "stuck-mpirun";
  fs::create_directories(bin);
  const char* path = std::getenv("PATH");
  const std::string real_path = path != nullptr ? path : "/usr/bin:/bin";
  const fs::path wrapper = box.write("stuck-mpirun/mpirun", "#!/bin/sh\n"
                                                           "PATH='" + real_path + "' mpirun \"$@\"\n"
                                                           "trap '' TERM\n"
                                                           "while :; do sleep 1; done\n");
  fs::permissions(wrapper, fs::perms::owner_all);
  auto launch = box.start_program(
      {"/usr/bin/env", "PATH=" + bin.string() + ":" + real_path, procactor_binary().string(), "launch", file.string()});
  const mpirun_guard guard(file);
  const int code = launch->wait(120s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == 1, out, launch->err());
  for (const std::string& node : nodes) {
    CHECK_MESSAGE(count_of(out, "procactor@" + node + " | graph primes-two-nodes finished in ") == 1, out);
  }
  CHECK_MESSAGE(out.find(" finished: ending the MPI job\n") != std::string::npos, out);
  CHECK_MESSAGE(out.find("procactor | mpirun has not ended 10 s after node n") != std::string::npos, out);
  CHECK_MESSAGE(out.find("procactor | mpirun has not ended 5 s after SIGTERM: killing it\n") != std::string::npos, out);
  CHECK_MESSAGE(out.find("procactor | mpirun ended by signal 9\n") != std::string::npos, out);
  std::vector<pid_t> left;
  CHECK_MESSAGE(eventually([&] { return (left = processes_with_cmdline(wrapper.string())).empty(); }, 30s), left.size(),
                " processes still run ", wrapper);
  check_run_left_nothing(launch->pid());
  check_nodes_left_nothing(box, "primes-two-nodes", file);
}

TEST_CASE("a stopped mpirun is ended by the third Ctrl-C and killed 5 s later and nothing is left" *
          doctest::timeout(590)) {
  sandbox box;
  const two_node_launch run(box, box.copy_graph("endless_two_nodes.toml"), "endless-two-nodes", 2);
  const auto mpirun = mpirun_of(run.file);
  REQUIRE(mpirun.size() == 1);
  REQUIRE(::kill(mpirun.front(), SIGSTOP) == 0);

  // Each Ctrl-C once the one before has been taken.
  run.launch->signal(SIGINT);
  run.launch->wait_for_output("procactor | interrupted: stopping the graph on every node (again to force)\n", 60s);
  run.launch->signal(SIGINT);
  run.launch->wait_for_output("procactor | stopping now on every node\n", 60s);
  run.launch->signal(SIGINT);
  run.launch->wait_for_output("procactor | ending the MPI job (again to kill it)\n", 60s);
  const int code = run.launch->wait(120s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 1, out, run.launch->err());
  CHECK_MESSAGE(out.find("procactor | mpirun has not ended 5 s after SIGTERM: killing it\n") != std::string::npos, out);
  check_killed_mpirun_left_nothing(box, run, out, mpirun.front());
}

// A stopped mpirun passes nothing on, not even the nodes' last status that
// starts the wait above: the launch waited for good. Stopped for 10 s, it
// is ended (and continued, to take its SIGTERM).
TEST_CASE("an mpirun stopped for 10 s is ended by the launch and the run fails and nothing is left" *
          doctest::timeout(590)) {
  sandbox box;
  const fs::path base = box.dir() / "mpi";
  const std::string text = with_session_base(read_whole(box.copy_graph("endless_two_nodes.toml")), base);
  const two_node_launch run(box, box.write("endless_own_sessions.toml", text), "endless-two-nodes", 2);
  const auto mpirun = mpirun_of(run.file);
  REQUIRE(mpirun.size() == 1);
  REQUIRE(::kill(mpirun.front(), SIGSTOP) == 0);
  run.launch->wait_for_output("procactor | mpirun has been stopped for 10 s: ending the MPI job\n", 60s);
  const int code = run.launch->wait(60s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 1, out, run.launch->err());
  CHECK_MESSAGE(out.find("procactor | run endless-two-nodes failed after ") != std::string::npos, out);
  check_run_left_nothing(run.launch->pid());
  check_nodes_left_nothing(box, "endless-two-nodes", run.file, run.actors());
  check_mpi_session_removed(mpirun.front(), base);
  check_session_base_empty(base);
}

TEST_CASE("an mpirun killed with kill -9 leaves no session directory and no shared memory of Open MPI" *
          doctest::timeout(590)) {
  sandbox box;
  // endless_two_nodes.toml with the transports left to the launch.
  std::string text = read_whole(box.copy_graph("endless_two_nodes.toml"));
  const std::string chosen = R"("--mca", "btl", "tcp,self", )";
  REQUIRE(text.find(chosen) != std::string::npos);
  text.erase(text.find(chosen), chosen.size());
  const fs::path base = box.dir() / "mpi";
  const two_node_launch run(box, box.write("endless_default_btl.toml", with_session_base(text, base)),
                            "endless-two-nodes", 2);
  const auto mpirun = mpirun_of(run.file);
  REQUIRE(mpirun.size() == 1);
  REQUIRE(!mpi_sessions_of(mpirun.front(), base).empty());
  const std::string job = mpi_job_of(node_supervisor(box, "endless-two-nodes", "n0"));
  REQUIRE_MESSAGE(!job.empty(), "no OMPI_MCA_ess_base_jobid in node n0's environment");
  REQUIRE(::kill(mpirun.front(), SIGKILL) == 0);

  const int code = run.launch->wait(120s);
  const std::string out = run.launch->out();
  CHECK_MESSAGE(code == 1, out, run.launch->err());
  check_killed_mpirun_left_nothing(box, run, out, mpirun.front(), base);
  check_session_base_empty(base);
  const auto segments = vader_segments_of(job);
  CHECK_MESSAGE(segments.empty(), segments.size(), " segments of Open MPI job ", job, " left in /dev/shm, e.g. ",
                segments.empty() ? std::string() : segments.front());
  for (const auto& name : segments) ::unlink(("/dev/shm/" + name).c_str());
}

}  // namespace cli

namespace cli {
namespace {

// endless_two_nodes.toml with node n1 on a host that never answers: mpirun
// reaches it through `silent_ssh.sh`, a remote shell that waits for ever (as
// an ssh to a host that drops packets does), so node n1 never starts and
// node 0 waits for it inside MPI's start-up. The remote shell has started
// a process of its own that waits too (as an ssh that starts a master
// connection does), which is no child of mpirun's. `start_timeout` as
// given. The file; the remote shell's path is box.dir() / "silent_ssh.sh".
fs::path silent_host_graph(const sandbox& box, const std::string& start_timeout) {
  const fs::path agent = box.write("silent_ssh.sh",
                                   "#!/bin/bash\n(exec -a \"silent-ssh-helper $0\" sleep 600) &\n"
                                   "exec -a \"silent-ssh $0\" sleep 600\n");
  fs::permissions(agent, fs::perms::owner_all);
  std::string text = read_whole(box.copy_graph("endless_two_nodes.toml"));
  const std::string n1 = R"({ name = "n1", host = "localhost" })";
  REQUIRE(text.find(n1) != std::string::npos);
  text.replace(text.find(n1), n1.size(), R"({ name = "n1", host = "silent-host" })");
  const std::string args = "mpi_args = [";
  REQUIRE(text.find(args) != std::string::npos);
  text.replace(text.find(args), args.size(),
               "start_timeout = \"" + start_timeout + "\"\nmpi_args = [\"--mca\", \"plm_rsh_agent\", \"" +
                   agent.string() + "\", ");
  return box.write("silent_host.toml", text);
}

// After a launch of silent_host_graph: nothing of it is left, the remote
// shell that never answered included.
void check_silent_host_left_nothing(const sandbox& box, const process& launch, const fs::path& file) {
  check_run_left_nothing(launch.pid());
  if (const pid_t n0 = node_supervisor(box, "endless-two-nodes", "n0"); n0 > 0) check_run_left_nothing(n0);
  for (const std::string& text : {file.string(), (box.dir() / "silent_ssh.sh").string()}) {
    std::vector<pid_t> left;
    CHECK_MESSAGE(eventually([&] { return (left = processes_with_cmdline(text)).empty(); }, 60s), left.size(),
                  " processes still name ", text);
  }
}

}  // namespace

// A node that never said it was ready (its host did not answer, or its
// supervisor was stopped inside MPI's start-up) held the launch for good,
// silent, and a `procactor stop` with it.
TEST_CASE("a node that never becomes ready ends the launch at start_timeout with lines that name it" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path file = silent_host_graph(box, "8s");
  auto launch = box.start({"launch", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  const fs::path socket = control_socket(box, "endless-two-nodes");
  REQUIRE(eventually([&] { return fs::exists(socket) || launch->poll().has_value(); }, 120s));
  // Asked before the deadline, answered at it at the latest.
  auto status = box.start({"status", "endless-two-nodes"});
  const result stop = box.procactor({"stop", "endless-two-nodes"}, 120s);
  CHECK_MESSAGE(stop.exit_code == 1, stop.out, stop.err);
  CHECK_MESSAGE(stop.out.find("stopped run endless-two-nodes; it ended with exit code 1") != std::string::npos,
                stop.out, stop.err);
  CHECK(status->wait(120s) == 1);
  const std::string status_says = status->out() + status->err();
  CHECK_MESSAGE(status_says.find("run endless-two-nodes has not started on every node yet (not ready: nodes n0 (host "
                                 "localhost), n1 (host silent-host), ") != std::string::npos,
                status_says);
  CHECK(launch->wait(120s) == 1);
  const std::string out = launch->out();
  const std::string nodes_named = "nodes n0 (host localhost), n1 (host silent-host)";
  for (const std::string& line : std::vector<std::string>{
           "procactor | stop requested: the graph stops on every node once all have started\n",
           "procactor | waiting for " + nodes_named + " to start (",
           "; the run ends if not every node is ready within start_timeout, 8s)\n",
           "procactor | " + nodes_named + " not ready ",
           " after the launch (start_timeout in [cluster] is 8s): ending the MPI job\n",
           "procactor | mpirun left sleep (pid ", "), which it had started, running: killed\n",
           "procactor | mpirun exited with status ", "procactor | run endless-two-nodes failed after "}) {
    CHECK_MESSAGE(out.find(line) != std::string::npos, line, "\n", out, launch->err());
  }
  check_silent_host_left_nothing(box, *launch, file);
}

// The launch killed (kill -9) before every node is ready: mpirun ends
// with it (SIGTERM on its parent's death), and the shell that sweeps
// mpirun's session directory also kills what mpirun left holding its
// output, the remote shell that hangs and what that started; they ran on
// for good, orphans.
TEST_CASE("a launch killed before the nodes are ready leaves no remote shell running" * doctest::timeout(290)) {
  sandbox box;
  const fs::path file = silent_host_graph(box, "1h");
  auto launch = box.start({"launch", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  const std::string agent = (box.dir() / "silent_ssh.sh").string();
  // Both the remote shell and what it started.
  REQUIRE(eventually([&] { return processes_with_cmdline(agent).size() >= 2 || launch->poll().has_value(); }, 120s));
  launch->signal(SIGKILL);
  (void)launch->wait(60s);
  check_silent_host_left_nothing(box, *launch, file);
}

// The second Ctrl-C (or a stop with no time to stop in) cannot stop in
// order nodes that have not started: it ends the MPI job at once rather
// than wait for them (here for ever: start_timeout is an hour).
TEST_CASE("a stop now before the nodes are ready ends the MPI job at once and nothing is left" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path file = silent_host_graph(box, "1h");
  auto launch = box.start({"launch", file.string()}, {.cwd = {}, .new_session = true});
  const mpirun_guard guard(file);
  // mpirun is started once the launch has set up its signals.
  REQUIRE(eventually([&] { return !mpirun_of(file).empty() || launch->poll().has_value(); }, 120s));
  std::string why;
  std::string hint;  // only where a Ctrl-C was pressed
  SUBCASE("a second Ctrl-C") {
    launch->signal(SIGINT);
    launch->wait_for_output(
        "procactor | interrupted: the graph stops on every node once all have started (again to "
        "force)\n",
        120s);
    launch->signal(SIGINT);
    why = "stopping now before every node has started";
    hint = " (Ctrl-C again to kill it)";
  }
  SUBCASE("procactor stop --timeout 0") {
    const result stop = box.procactor({"stop", "endless-two-nodes", "--timeout", "0s"}, 120s);
    CHECK_MESSAGE(stop.exit_code == 1, stop.out, stop.err);
    why = "stop now requested before every node has started";
  }
  CHECK(launch->wait(120s) == 1);
  const std::string out = launch->out();
  CHECK_MESSAGE(out.find("procactor | " + why +
                         " (not ready: nodes n0 (host localhost), n1 (host silent-host)): "
                         "ending the MPI job" +
                         hint + "\n") != std::string::npos,
                out, launch->err());
  CHECK_MESSAGE(out.find("procactor | run endless-two-nodes failed after ") != std::string::npos, out);
  check_silent_host_left_nothing(box, *launch, file);
}

}  // namespace cli
