// `procactor launch` in the foreground, to the end: the graphs compute what
// another program (or the test itself) computes, and nothing outlives them.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "harness.hpp"

namespace cli {
namespace {

// The lines `NAME.N | ...` of one instance, without the prefix.
std::vector<std::string> output_of(const std::string& instance, const std::string& out) {
  std::vector<std::string> lines;
  const std::string prefix = instance + " | ";
  for (const auto& line : lines_of(out)) {
    if (line.starts_with(prefix)) lines.push_back(line.substr(prefix.size()));
  }
  return lines;
}

// Text whose word counts are known only by counting them: mixed case,
// digits, punctuation, blank and long lines, words of every frequency.
std::string corpus() {
  const std::vector<std::string> words = {"Alpha", "beta",   "GAMMA", "delta", "epsilon", "zeta",   "eta",
                                          "theta", "iota",   "kappa", "x86",   "2024",    "don't",  "e-mail",
                                          "a_b",   "Lambda", "mu",    "Nu",    "xi",      "omicron"};
  std::string text;
  std::uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1103515245U + 12345U;
    return (state >> 16U) & 0x7fffU;
  };
  for (int line = 0; line < 400; ++line) {
    const unsigned length = line % 37 == 0 ? 0 : next() % 25 + 1;
    for (unsigned i = 0; i < length; ++i) {
      // Skewed: low indices far more often, so the top ten is not a tie.
      const unsigned pick = std::min<unsigned>(next() % 20, next() % 20);
      text += words[pick];
      text += (next() % 5 == 0) ? ", " : (next() % 7 == 0 ? "!\t" : " ");
    }
    text += '\n';
  }
  text += std::string(5000, 'z') + " ZZ zz\n";
  return text;
}

// Runs `procactor launch GRAPH` in the foreground to its end and checks its
// exit code and that the run left nothing behind: its standard output.
std::string launch_to_end(sandbox& box, const std::string& graph, int expected_code,
                          const spawn_options& options = {}) {
  auto launch = box.start({"launch", test_graph(graph).string()}, options);
  const int code = launch->wait(240s);
  const std::string out = launch->out();
  CHECK_MESSAGE(code == expected_code, out, launch->err());
  check_run_left_nothing(launch->pid());
  return out;
}

// Whether the sink printed this total, on a line of its own.
bool has_total(const std::string& out, std::uint64_t total) {
  return out.find("\nsink.0 | total: " + std::to_string(total) + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("launch counts as many primes as example-primes" * doctest::timeout(290)) {
  sandbox box;
  const result reference = box.program({example_primes_binary().string(), "2000000"}, 240s);
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.err);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(reference.out, match, std::regex("primes below 2000000: ([0-9]+)")), reference.out);
  const std::string expected = match[1];
  CHECK(expected == std::to_string(primes_between(0, 2'000'000)));

  const std::string out = launch_to_end(box, "primes_small.toml", 0);
  CHECK_MESSAGE(has_total(out, std::stoull(expected)), out);
  CHECK(output_of("sink.0", out).size() == 1);
  CHECK(out.find("procactor | graph primes-small finished in ") != std::string::npos);
  // Every instance ran, so the ready line came, once, whatever finished first.
  CHECK_MESSAGE(count_of(out, "procactor | 4 actors ready in ") == 1, out);
}

TEST_CASE("example-primes refuses bad arguments with its usage and exit code 2" * doctest::timeout(110)) {
  sandbox box;
  const std::vector<std::vector<std::string>> bad = {
      {"abc"}, {"-5"}, {"1e6"}, {"100", "0"}, {"100", "2x"}, {"100", "1001"}, {"10000000000000"}, {"100", "2", "3"}};
  for (const auto& args : bad) {
    std::vector<std::string> argv{example_primes_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    CAPTURE(argv);
    const result r = box.program(argv, 60s);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    // What is wrong, naming the argument (the last one in each case), then
    // the usage.
    CHECK_MESSAGE(r.err.starts_with("example-primes: "), r.err);
    CHECK_MESSAGE(r.err.find("'" + args.back() + "'") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find("\nusage: example-primes [N] [WORKERS]\n") != std::string::npos, r.err);
  }
  // The speedup line names the workers and the cores apart.
  const result r = box.program({example_primes_binary().string(), "100000", "3"}, 60s);
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK_MESSAGE(std::regex_search(r.out, std::regex("primes below 100000: 9592 with 3 worker processes in ")), r.out);
  CHECK_MESSAGE(std::regex_search(r.out, std::regex("\nspeedup: [0-9.]+x with 3 workers on [0-9]+ cores\n")), r.out);
}

TEST_CASE("launch of wordcount prints the ten most frequent words of the file" * doctest::timeout(290)) {
  sandbox box;
  const std::string text = corpus();
  box.write("words.txt", text);
  std::vector<std::pair<std::string, long>> expected;
  for (const auto& [word, count] : word_counts(text)) expected.emplace_back(word, count);
  // TopWords' order: most frequent first, ties alphabetically.
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  expected.resize(10);

  // The graph reads words.txt relative to the directory procactor runs in.
  const std::string out = launch_to_end(box, "wordcount_small.toml", 0, {.cwd = box.dir()});
  CHECK_MESSAGE(count_of(out, "procactor | 6 actors ready in ") == 1, out);
  const auto top = output_of("top.0", out);
  REQUIRE_MESSAGE(top.size() == 10, out);
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(top[i] == expected[i].first + " " + std::to_string(expected[i].second));
  }
}

TEST_CASE("crashy workers abort and are restarted and no number is lost" * doctest::timeout(290)) {
  sandbox box;
  const std::string out = launch_to_end(box, "crashy_small.toml", 0);
  CHECK_MESSAGE(has_total(out, primes_between(1, 20'000)), out);
  const std::size_t crashes = count_of(out, " exited (signal 6");
  CHECK(crashes >= 1);
  CHECK(count_of(out, " restarting: restart ") >= 1);
  // Every abort was announced by the worker itself, and that line reached
  // the output before the crash did.
  CHECK(count_of(out, ": crashing on purpose at message 1000\n") == crashes);
  CHECK(out.find("gave up") == std::string::npos);
}

TEST_CASE("the ready line comes even when an instance has finished before the last one started" *
          doctest::timeout(290)) {
  sandbox box;
  auto launch = box.start({"launch", test_graph("finished_first.toml").string()}, {.cwd = {}, .new_session = true});
  launch->wait_for_output("procactor | 101 actors ready in ", 240s);
  launch->wait_for_output("procactor | quick.0 exited (exit code 0)", 240s);
  // What keeps the run going from then on is said: the actors that no route
  // leads into, which get no end of stream.
  launch->wait_for_output(
      "procactor | every actor that a route leads into has finished; lasting.0, lasting.1, "
      "lasting.2, lasting.3 and 96 more, which no route leads into, run on: the run ends when they "
      "return, or when the graph is stopped (Ctrl-C, procactor stop)\n",
      240s);
  launch->signal(SIGINT);
  const int code = launch->wait(240s);
  CHECK_MESSAGE(code == 0, launch->out(), launch->err());
  CHECK(count_of(launch->out(), " actors ready in ") == 1);
  CHECK(count_of(launch->out(), "every actor that a route leads into") == 1);
  check_run_left_nothing(launch->pid());
}

TEST_CASE("the ready line comes before the exit of an instance that finishes at once" * doctest::timeout(290)) {
  sandbox box;
  // The runtime reports the exit on its monitor thread, where the line is
  // printed at once; the ready line goes before it, since the instance had
  // run by then (it exited normally). While only the run loop looked (every
  // 2 ms), it could come after the exit, or not at all once the run ended.
  const std::string out = launch_to_end(box, "exits_at_once.toml", 0);
  const auto lines = lines_of(out);
  // The index of the first line that starts with `start`; lines.size() when none does.
  const auto at = [&lines](const std::string& start) {
    const auto found =
        std::find_if(lines.begin(), lines.end(), [&start](const std::string& line) { return line.starts_with(start); });
    return static_cast<std::size_t>(found - lines.begin());
  };
  const std::size_t ready = at("procactor | 1 actor ready in ");
  const std::size_t exited = at("procactor | quick.0 exited (exit code 0)");
  const std::size_t finished = at("procactor | graph exits-at-once finished in ");
  REQUIRE_MESSAGE(ready < lines.size(), out);
  REQUIRE_MESSAGE(exited < lines.size(), out);
  CHECK_MESSAGE(ready < exited, out);
  CHECK_MESSAGE(exited < finished, out);
  CHECK(count_of(out, " actor ready in ") == 1);
  // The run's events are recorded in the same order.
  const result events = box.procactor({"events", "exits-at-once"});
  REQUIRE(events.exit_code == 0);
  const auto ready_event = events.out.find(" ready ");
  const auto exit_event = events.out.find(" exited ");
  REQUIRE_MESSAGE(ready_event != std::string::npos, events.out);
  REQUIRE_MESSAGE(exit_event != std::string::npos, events.out);
  CHECK_MESSAGE(ready_event < exit_event, events.out);
}

// A damaged line of events.jsonl (here one cut short and one that is JSON
// but no event) was printed as it was, into `--json` too, where it broke
// every reader of JSON lines. It is said on standard error and left out.
TEST_CASE("events names a line of events.jsonl that is not an event and leaves it out" * doctest::timeout(290)) {
  sandbox box;
  (void)launch_to_end(box, "exits_at_once.toml", 0);
  const fs::path file = box.runs_root() / "exits-at-once" / "events.jsonl";
  const auto kept = lines_of(read_whole(file));
  REQUIRE(kept.size() >= 3);
  {
    std::ofstream damaged(file, std::ios::trunc);
    damaged << kept[0] << "\n{\"time_ms\":17966510\n" << kept[1] << "\n[1, 2]\n";
    for (std::size_t i = 2; i < kept.size(); ++i) damaged << kept[i] << '\n';
  }
  const std::string said =
      "procactor: run exits-at-once's event log (events.jsonl) has a line that is not an event, left out: ";
  for (const bool as_json : {true, false}) {
    CAPTURE(as_json);
    const result events = box.procactor(as_json ? std::vector<std::string>{"events", "exits-at-once", "--json"}
                                                : std::vector<std::string>{"events", "exits-at-once"});
    CHECK_MESSAGE(events.exit_code == 0, events.err);
    CHECK_MESSAGE(events.err == said + "{\"time_ms\":17966510\n" + said + "[1, 2]\n", events.err);
    const auto printed = lines_of(events.out);
    CHECK_MESSAGE(printed.size() == kept.size(), events.out);
    if (as_json) {
      CHECK(printed == kept);
    } else {
      CHECK_MESSAGE(events.out.find("17966510") == std::string::npos, events.out);
      CHECK_MESSAGE(events.out.find("[1, 2]") == std::string::npos, events.out);
    }
  }
}

TEST_CASE("launch --dry-run prints the plan and starts nothing" * doctest::timeout(110)) {
  sandbox box;
  const std::string graph = test_graph("primes_small.toml").string();
  const result plan = box.procactor({"graph", graph});
  REQUIRE(plan.exit_code == 0);

  auto dry = box.start({"launch", "--dry-run", graph});
  const int code = dry->wait(60s);
  CHECK_MESSAGE(code == 0, dry->err());
  CHECK(!dry->out().empty());
  CHECK(dry->out() == plan.out);
  CHECK(dry->out().find("started (pid") == std::string::npos);
  // No run directory: not even the runs root was made.
  CHECK_MESSAGE(!fs::exists(box.runs_root() / "primes-small"), box.runs_root());
  CHECK(descendants().empty());
  CHECK(segments_of(dry->pid()).empty());
  CHECK(actors_of(dry->pid()).empty());
  // And nothing for `status` to find.
  CHECK(box.procactor({"status"}).exit_code == 3);
}

#ifdef PROCACTOR_CLI_WITH_MPI
TEST_CASE("launch --dry-run of a graph placed on two nodes prints the placement and starts nothing" *
          doctest::timeout(110)) {
  sandbox box;
  const std::string graph = test_graph("primes_two_nodes.toml").string();
  auto dry = box.start({"launch", "--dry-run", graph});
  const int code = dry->wait(60s);
  CHECK_MESSAGE(code == 0, dry->err());
  // The plan, with each node's instances.
  CHECK_MESSAGE(dry->out().ends_with("cluster of 2 nodes, launcher mpirun --mca btl tcp,self --mca btl_tcp_if_include "
                                     "lo --mca oob_tcp_if_include lo:\n"
                                     "  node n0 (localhost): 3 instances\n"
                                     "    sink.0\n"
                                     "    worker.0\n"
                                     "    source.0\n"
                                     "  node n1 (localhost): 1 instance\n"
                                     "    worker.1\n"),
                dry->out());
  CHECK(dry->out().find("started (pid") == std::string::npos);
  // No run directory (not even a node's), no mpirun, no actor.
  const auto no_run_directory = [&box] {
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(box.runs_root(), ignored)) {
      if (entry.path().filename().string().starts_with("primes-two-nodes")) return false;
    }
    return true;
  };
  CHECK_MESSAGE(no_run_directory(), box.runs_root());
  CHECK(descendants().empty());
  CHECK(segments_of(dry->pid()).empty());
  CHECK(actors_of(dry->pid()).empty());
  CHECK(box.procactor({"status"}).exit_code == 3);

  // With no mpirun on PATH the launch says what to install, and makes no
  // run (the last run of the graph would otherwise lose its name).
  for (const bool detach : {false, true}) {
    CAPTURE(detach);
    std::vector<std::string> argv = {"/usr/bin/env", "PATH=" + box.dir().string(), procactor_binary().string(),
                                     "launch"};
    if (detach) argv.emplace_back("--detach");
    argv.push_back(graph);
    const result missing = box.program(argv, 60s);
    CHECK(missing.exit_code == 1);
    CHECK_MESSAGE(missing.err.find("procactor: error: mpirun is not on PATH: a graph on several nodes needs Open "
                                   "MPI's mpirun on PATH (Debian: openmpi-bin)") != std::string::npos,
                  missing.err);
    CHECK(descendants().empty());
    CHECK_MESSAGE(no_run_directory(), box.runs_root());
  }
}
#else
TEST_CASE("without MPI validate and launch --dry-run refuse a graph on two nodes as launch does" *
          doctest::timeout(110)) {
  sandbox box;
  const std::string graph = test_graph("primes_two_nodes.toml").string();
  const std::string error =
      "procactor: error: graph primes-two-nodes is placed on 2 nodes, and this procactor was built without MPI "
      "(PROCACTOR_WITH_MPI=OFF): install openmpi-bin and libopenmpi-dev, then configure and build again with "
      "`cmake -S . -B build -DPROCACTOR_WITH_MPI=ON && cmake --build build`\n";
  // The same error and exit code from each, before anything starts (a
  // detached launch is refused before it detaches).
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"validate", graph}, {"launch", "--dry-run", graph}, {"launch", graph}, {"launch", "--detach", graph}}) {
    CAPTURE(argv[1]);
    const result r = box.procactor(argv, 60s);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err == error, r.err);
  }
  CHECK(descendants().empty());
  CHECK(box.procactor({"status"}).exit_code == 3);
}
#endif

TEST_CASE("a graph whose cluster has one node launches as a graph without one" * doctest::timeout(290)) {
  sandbox box;
  const std::string out = launch_to_end(box, "primes_one_node.toml", 0);
  CHECK_MESSAGE(has_total(out, primes_between(0, 2'000'000)), out);
  CHECK(out.find("procactor | graph primes-one-node finished in ") != std::string::npos);
  // It says so: the node's host is not used.
  CHECK_MESSAGE(out.starts_with("procactor | every instance is on node solo: the graph runs here, without mpirun "
                                "(host localhost is not used)\n"),
                out);
}

TEST_CASE("an actor that keeps crashing makes the launch give up with exit code 1" * doctest::timeout(290)) {
  sandbox box;
  const std::string out = launch_to_end(box, "gives_up.toml", 1);
  // The report names the actor whose exit took the supervisor past its
  // limit, in the units the file wrote, and the last line says it again.
  CHECK_MESSAGE(out.find("procactor | [supervisor] gave up: more than 1 restart within 60s; the last was worker.0 "
                         "(signal 6 (Aborted))\n") != std::string::npos,
                out);
  const auto lines = lines_of(out);
  REQUIRE(!lines.empty());
  CHECK_MESSAGE(lines.back().starts_with("procactor | graph gives-up failed after "), lines.back());
  // Then, when the worker's queue was left, how many messages that was.
  const std::string why =
      ": [supervisor] gave up (more than 1 restart within 60s); the last exit was worker.0's (signal 6 (Aborted))";
  const auto at = lines.back().find(why);
  REQUIRE_MESSAGE(at != std::string::npos, lines.back());
  const std::string rest = lines.back().substr(at + why.size());
  CHECK_MESSAGE((rest.empty() || std::regex_match(rest, std::regex(R"(; [0-9]+ messages? became (a )?dead letters? )"
                                                                   R"(\(worker\.0 [0-9]+; `procactor inspect )"
                                                                   R"(gives-up ACTOR` shows them\))"))),
                lines.back());
  // The run directory remembers how it ended.
  const result status = box.procactor({"status", "gives-up"});
  CHECK(status.exit_code == 3);
  CHECK_MESSAGE(status.err.find("it ended with exit code 1") != std::string::npos, status.err);
}

// The worker is the last instance of the run (its source has ended): the
// exit that takes the supervisor past its limit is also the one that leaves
// nothing running. The give-up, which comes just after that exit, still
// decides how the run ends.
TEST_CASE("a give-up on the run's last exit fails the launch and is not reported as finished" *
          doctest::timeout(290)) {
  sandbox box;
  for (int attempt = 0; attempt < 3; ++attempt) {
    CAPTURE(attempt);
    const std::string out = launch_to_end(box, "gives_up_last.toml", 1);
    CHECK_MESSAGE(out.find("procactor | [supervisor] gave up: more than 2 restarts within 60s; the last was "
                           "worker.0 (signal 6 (Aborted))\n") != std::string::npos,
                  out);
    const auto lines = lines_of(out);
    REQUIRE(!lines.empty());
    CHECK_MESSAGE(lines.back().starts_with("procactor | graph gives-up-last failed after "), lines.back());
  }
}

}  // namespace cli
