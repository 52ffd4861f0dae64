#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "did_you_mean.hpp"
#include "dot.hpp"
#include "graph.hpp"
#include "graph_checks.hpp"
#include "names.hpp"
#include "plan.hpp"
#include "runtime_options.hpp"

using namespace procactor::launcher;
using namespace std::chrono_literals;

namespace {

// The graph of the issue, with a fixed replica count so plans are stable.
constexpr std::string_view primes = R"(version = 1
[graph]
name = "primes"
plugins = ["../../build/lib/libprocactor_examples.so"]
mailbox_capacity = "1MiB"
shutdown_timeout = "5s"
[supervisor]
strategy = "one_for_one"
max_restarts = 5
within = "30s"
[actors.source]
type = "examples.RangeSource"
params = { from = 2, to = 20_000_000, chunk = 50_000 }
[actors.worker]
type = "examples.PrimeCounter"
replicas = 2
cpu = "spread"
[actors.sink]
type = "examples.Sum"
[[routes]]
from = "source"
to = "worker"
policy = "round_robin"
[[routes]]
from = "worker"
to = "sink"
)";

ParseResult parse(std::string_view text) {
  return parse_graph_text(text, "test.toml", "/graphs/demo");
}

Graph parse_ok(std::string_view text) {
  ParseResult result = parse(text);
  if (!result.ok()) {
    std::string rendered;
    for (const Diagnostic& diagnostic : result.diagnostics) {
      rendered += render(diagnostic);
    }
    FAIL(rendered);
  }
  return std::move(*result.graph);
}

std::vector<std::string> messages(const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const Diagnostic& diagnostic : diagnostics) {
    out.push_back(std::to_string(diagnostic.line) + ":" + std::to_string(diagnostic.column) + " " +
                  diagnostic.message);
  }
  return out;
}

std::vector<std::string> errors_of(std::string_view text) {
  ParseResult result = parse(text);
  CHECK_FALSE(result.ok());
  return messages(result.diagnostics);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

bool contains(const std::vector<std::string>& lines, std::string_view wanted) {
  return std::find(lines.begin(), lines.end(), wanted) != lines.end();
}

}  // namespace

TEST_CASE("the example graph of the issue parses into the model") {
  const Graph graph = parse_ok(primes);
  CHECK(graph.name == "primes");
  REQUIRE(graph.plugins.size() == 1);
  CHECK(graph.plugins[0].path == "/build/lib/libprocactor_examples.so");
  CHECK(graph.plugins[0].as_written == "../../build/lib/libprocactor_examples.so");
  CHECK(graph.mailbox_capacity == 1U << 20U);
  CHECK(graph.shutdown_timeout == 5s);
  REQUIRE(graph.groups.size() == 1);
  CHECK(graph.root().name == "root");
  CHECK(graph.root().options.strategy == procactor::Strategy::one_for_one);
  CHECK(graph.root().options.max_restarts == 5);
  CHECK(graph.root().options.within == 30s);
  CHECK(graph.duration_text("supervisor.within", graph.root().options.within) == "30s");

  REQUIRE(graph.actors.size() == 3);
  CHECK(graph.actors[0].name == "source");
  CHECK(graph.actors[1].name == "worker");
  CHECK(graph.actors[2].name == "sink");
  CHECK(graph.actors[1].type == "examples.PrimeCounter");
  CHECK(graph.actors[1].replicas == 2);
  CHECK(graph.actors[1].cpu.kind == CpuPlacement::Kind::spread);
  CHECK(graph.actors[1].type_position.line == 15);
  CHECK(graph.actors[1].type_position.column == 8);

  REQUIRE(graph.routes.size() == 2);
  CHECK(graph.routes[1].from == "worker");
  CHECK(graph.routes[1].to == "sink");
  CHECK(graph.routes[1].policy == procactor::RoutePolicy::round_robin);
}

TEST_CASE("params keep their file order and their TOML types") {
  const Graph graph = parse_ok(R"(version = 1
[actors.a]
type = "x.A"
params = { to = 9, from = 2, rate = 0.5, on = true, name = "n", tags = ["a", "b"], mix = [1, 2.5], ids = [3, 4], flags = [true, false] }
)");
  const ActorSpec& actor = graph.actors.front();
  std::vector<std::string> names;
  for (const Param& param : actor.params) {
    names.push_back(param.name);
  }
  CHECK(names == std::vector<std::string>{"to", "from", "rate", "on", "name", "tags", "mix", "ids", "flags"});
  CHECK(std::get<std::int64_t>(actor.find_param("from")->value) == 2);
  CHECK(std::get<double>(actor.find_param("rate")->value) == 0.5);
  CHECK(std::get<bool>(actor.find_param("on")->value));
  CHECK(std::get<std::string>(actor.find_param("name")->value) == "n");
  CHECK(std::get<std::vector<std::string>>(actor.find_param("tags")->value) == std::vector<std::string>{"a", "b"});
  CHECK(std::get<std::vector<double>>(actor.find_param("mix")->value) == std::vector<double>{1.0, 2.5});
  CHECK(std::get<std::vector<std::int64_t>>(actor.find_param("ids")->value) == std::vector<std::int64_t>{3, 4});
  // A boolean array stays one: the runtime's ParamValue holds it as it is.
  CHECK(std::get<std::vector<bool>>(actor.find_param("flags")->value) == std::vector<bool>{true, false});
  CHECK(procactor::kind_of(actor.find_param("flags")->value) == procactor::ParamKind::boolean_list);
  CHECK(actor.find_param("absent") == nullptr);
  CHECK(actor.find_param("from")->position.line == 4);
}

TEST_CASE("what a file leaves out has the library's default, not one of the launcher's") {
  const Graph graph = parse_ok("version = 1\n[actors.only]\ntype = \"x.Only\"\n");
  CHECK(graph.name == "test");
  CHECK(graph.plugins.empty());
  CHECK_FALSE(graph.mailbox_capacity.has_value());
  CHECK(graph.shutdown_timeout == procactor::Options{}.shutdown_timeout);
  REQUIRE(graph.groups.size() == 1);
  const procactor::GroupOptions group;
  CHECK(graph.root().options.strategy == group.strategy);
  CHECK(graph.root().options.max_restarts == group.max_restarts);
  CHECK(graph.root().options.within == group.within);
  const procactor::Backoff backoff;
  CHECK(graph.backoff.initial == backoff.initial);
  CHECK(graph.backoff.max == backoff.max);
  CHECK(graph.backoff.reset_after == backoff.reset_after);
  CHECK(graph.backoff.multiplier == backoff.multiplier);
  CHECK(graph.stall_timeout == procactor::SpawnOptions{}.stall_timeout);
  CHECK(graph.actors[0].replicas == 1);
  CHECK(graph.actors[0].restart == procactor::SpawnOptions{}.restart);
  CHECK(graph.actors[0].group == "root");
  CHECK(graph.actors[0].cpu.kind == CpuPlacement::Kind::any);
  CHECK(graph.routes.empty());

  // And so does what the runtime is given.
  const procactor::SpawnOptions spawned = spawn_options(graph, graph.actors[0]);
  const procactor::SpawnOptions library;
  CHECK(spawned.mailbox_capacity == library.mailbox_capacity);
  CHECK(spawned.backoff.initial == library.backoff.initial);
  CHECK(spawned.backoff.max == library.backoff.max);
  CHECK(spawned.backoff.reset_after == library.backoff.reset_after);
  CHECK(spawned.stall_timeout == library.stall_timeout);
  CHECK(spawned.nice == library.nice);
  CHECK(spawned.memory_limit == library.memory_limit);
  CHECK(spawned.poison_limit == library.poison_limit);
  CHECK(mailbox_capacity_of(graph, graph.actors[0]) == procactor::Options{}.lane_capacity);
  const procactor::Options run = run_options(graph);
  CHECK(run.shutdown_timeout == procactor::Options{}.shutdown_timeout);
  CHECK(run.supervision.max_restarts == group.max_restarts);
  CHECK(run.supervision.within == group.within);
}

TEST_CASE("[supervisor] and the actors' settings reach the runtime's options") {
  const Graph graph = parse_ok(R"(version = 1
[graph]
mailbox_capacity = "64KiB"
shutdown_timeout = "2s"
[supervisor]
strategy = "rest_for_one"
max_restarts = 3
within = "10s"
backoff_initial = "10ms"
backoff_max = "1s"
min_uptime = "500ms"
stall_timeout = "1m"
[actors.source]
type = "x.S"
params = { n = 4, flags = [true, false] }
restart = "permanent"
[actors.sink]
type = "x.T"
replicas = 2
restart = "temporary"
mailbox_capacity = "8KiB"
nice = 3
memory_limit = "1GiB"
[[routes]]
from = "source"
to = "sink"
policy = "broadcast"
)");
  const procactor::Options run = run_options(graph);
  CHECK(run.shutdown_timeout == 2s);
  CHECK(run.supervision.strategy == procactor::Strategy::rest_for_one);
  CHECK(run.supervision.max_restarts == 3);
  CHECK(run.supervision.within == 10s);

  const procactor::SpawnOptions source = spawn_options(graph, graph.actors[0]);
  // A graph's normal exit is its end of stream: permanent restarts after a crash only.
  CHECK(source.restart == procactor::Restart::transient);
  CHECK(source.backoff.initial == 10ms);
  CHECK(source.backoff.max == 1s);
  CHECK(source.backoff.reset_after == 500ms);
  CHECK(source.stall_timeout == 1min);
  CHECK(source.mailbox_capacity == 64U << 10U);
  CHECK(source.params.get<std::int64_t>("n") == 4);
  CHECK(source.params.get<std::vector<bool>>("flags") == std::vector<bool>{true, false});
  REQUIRE(source.routes.size() == 1);
  CHECK(source.routes[0].policy == procactor::RoutePolicy::broadcast);
  CHECK(source.routes[0].targets == std::vector<std::string>{"sink.0", "sink.1"});

  const procactor::SpawnOptions sink = spawn_options(graph, graph.actors[1]);
  CHECK(sink.restart == procactor::Restart::temporary);
  CHECK(sink.mailbox_capacity == 8U << 10U);
  CHECK(sink.nice == 3);
  CHECK(sink.memory_limit == 1ULL << 30U);
  CHECK(sink.routes.empty());
}

TEST_CASE("durations keep the text the file wrote, for messages in the user's units") {
  const Graph graph = parse_ok(R"(version = 1
[supervisor]
within = "90000ms"
[groups.workers]
within = "2m"
[actors.a]
type = "x.A"
group = "workers"
)");
  CHECK(graph.root().options.within == 90s);
  CHECK(graph.duration_text("supervisor.within", graph.root().options.within) == "90000ms");
  CHECK(graph.describe_intensity(graph.root()) == "at most 10 restarts within 90000ms");
  CHECK(graph.describe_intensity(*graph.find_group("workers")) == "at most 10 restarts within 2m");
  // Left out: the default, formatted.
  CHECK(graph.duration_text("graph.shutdown_timeout", graph.shutdown_timeout) == "5s");
  // The runtime counts in milliseconds: a finer duration would be cut.
  const auto errors = errors_of("version = 1\n[supervisor]\nwithin = \"1500us\"\n[actors.a]\ntype = \"x.A\"\n");
  CHECK(errors == std::vector<std::string>{"3:10 'within' in [supervisor] must be a whole number of milliseconds, "
                                           "not '1500us' (the runtime counts in milliseconds)"});
}

TEST_CASE("replicas = \"auto\" means one per core") {
  const Graph graph = parse_ok("version = 1\n[actors.w]\ntype = \"x.W\"\nreplicas = \"auto\"\n");
  CHECK(graph.actors[0].replicas == auto_replicas());
  CHECK(graph.actors[0].replicas_auto);
  CHECK(auto_replicas() >= 1);
}

TEST_CASE("per-actor overrides are read") {
  const Graph graph = parse_ok(R"(version = 1
[actors.w]
type = "x.W"
cpu = [1, 3]
restart = "temporary"
mailbox_capacity = "64KiB"
nice = -5
memory_limit = "1GiB"
)");
  const ActorSpec& actor = graph.actors[0];
  CHECK(actor.cpu.kind == CpuPlacement::Kind::list);
  CHECK(actor.cpu.cores == std::vector<int>{1, 3});
  CHECK(actor.restart == procactor::Restart::temporary);
  CHECK(actor.mailbox_capacity == 65'536U);
  CHECK(actor.nice == -5);
  CHECK(actor.memory_limit == 1ULL << 30U);
}

TEST_CASE("cpu placement maps replicas onto cores") {
  CHECK_FALSE(cpu_for_replica(CpuPlacement{}, 0, 8).has_value());
  const CpuPlacement spread{.kind = CpuPlacement::Kind::spread, .cores = {}};
  CHECK(cpu_for_replica(spread, 3, 8) == 3);
  CHECK(cpu_for_replica(spread, 9, 8) == 1);
  const CpuPlacement list{.kind = CpuPlacement::Kind::list, .cores = {4, 6}};
  CHECK(cpu_for_replica(list, 0, 8) == 4);
  CHECK(cpu_for_replica(list, 3, 8) == 6);
}

TEST_CASE("every error in a file is reported, not only the first") {
  const auto errors = errors_of(R"(version = 1
[supervisor]
strategy = "one_for_al"
[actors.a]
tpye = "x.A"
[[routes]]
from = "a"
to = "b"
)");
  CHECK(errors == std::vector<std::string>{
                      "3:12 unknown strategy 'one_for_al' (did you mean 'one_for_all'?)",
                      "4:9 actor 'a' has no 'type'",
                      "5:1 unknown key 'tpye' in [actors.a] (did you mean 'type'?)",
                      "8:6 route to unknown actor 'b'",
                  });
}

TEST_CASE("unknown keys are errors at every level, with a suggestion when one is close") {
  const auto errors = errors_of(R"(version = 1
colour = "red"
[graph]
plugin = []
[supervisor]
whithin = "1s"
[actors.a]
type = "x.A"
replica = 2
[[routes]]
from = "a"
to = "a"
polciy = "random"
)");
  CHECK(contains(errors, "2:1 unknown key 'colour' at the top level"));
  CHECK(contains(errors, "4:1 unknown key 'plugin' in [graph] (did you mean 'plugins'?)"));
  CHECK(contains(errors, "6:1 unknown key 'whithin' in [supervisor] (did you mean 'within'?)"));
  CHECK(contains(errors, "9:1 unknown key 'replica' in [actors.a] (did you mean 'replicas'?)"));
  CHECK(contains(errors, "13:1 unknown key 'polciy' in [[routes]] (did you mean 'policy'?)"));
}

TEST_CASE("route endpoints are checked against actor names") {
  const auto errors = errors_of(R"(version = 1
[actors.source]
type = "x.S"
[actors.worker]
type = "x.W"
[[routes]]
from = "sourse"
to = "worker"
)");
  CHECK(errors == std::vector<std::string>{"7:8 route from unknown actor 'sourse' (did you mean 'source'?)"});
}

TEST_CASE("route cycles, self-routes and duplicate routes are errors") {
  const auto errors = errors_of(R"(version = 1
[actors.a]
type = "x.A"
[actors.b]
type = "x.B"
[[routes]]
from = "a"
to = "b"
[[routes]]
from = "b"
to = "a"
[[routes]]
from = "b"
to = "b"
[[routes]]
from = "a"
to = "b"
)");
  CHECK(errors == std::vector<std::string>{
                      "9:1 route cycle: a -> b -> a",
                      "14:6 route from 'b' to itself; an actor cannot feed its own input",
                      "15:1 duplicate route a -> b (first at line 6)",
                  });
}

TEST_CASE("a diamond is not a cycle") {
  const Graph graph = parse_ok(R"(version = 1
[actors.a]
type = "x.A"
[actors.b]
type = "x.B"
[actors.c]
type = "x.C"
[actors.d]
type = "x.D"
[[routes]]
from = "a"
to = "b"
[[routes]]
from = "a"
to = "c"
[[routes]]
from = "b"
to = "d"
[[routes]]
from = "c"
to = "d"
)");
  CHECK(graph.routes.size() == 4);
}

TEST_CASE("version must be 1 and a graph needs an actor") {
  CHECK(errors_of("version = 2\n[actors.a]\ntype = \"x.A\"\n") ==
        std::vector<std::string>{"1:11 unsupported version 2 (this procactor reads version 1)"});
  CHECK(errors_of("version = 1\n") ==
        std::vector<std::string>{"1:1 the graph has no actors (add an [actors.NAME] table)"});
  CHECK(errors_of("[actors.a]\ntype = \"x.A\"\n") ==
        std::vector<std::string>{"1:1 missing 'version = 1' at the top level"});
}

TEST_CASE("a TOML syntax error becomes one diagnostic at toml++'s position") {
  const ParseResult result = parse("version = 1\n[actors.a]\ntype = \n");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].line == 3);
  CHECK(result.diagnostics[0].message.starts_with("invalid TOML: "));
}

TEST_CASE("a diagnostic renders as file:line:col, the source line and a caret") {
  const ParseResult result = parse("version = 1\n[actors.a]\ntype = \"x.A\"\nreplicas = \"many\"\n");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(render(result.diagnostics[0]) ==
        "test.toml:4:12: error: 'replicas' in [actors.a] must be a number or \"auto\", not \"many\"\n"
        "    4 | replicas = \"many\"\n"
        "      |            ^~~~~~\n");
}

TEST_CASE("the caret keeps the tabs of the source line so it stays aligned") {
  const SourceFile source("t.toml", "\tkey\t= 1\n");
  const Diagnostic diagnostic = source.error_at(SourcePosition{.line = 1, .column = 6, .length = 1}, "m");
  CHECK(render(diagnostic) == "t.toml:1:6: error: m\n    1 | \tkey\t= 1\n      | \t   \t^\n");
}

TEST_CASE("a diagnostic about the whole file has no position") {
  Diagnostic diagnostic;
  diagnostic.file = "gone.toml";
  diagnostic.message = "cannot read graph file: No such file or directory";
  CHECK(render(diagnostic) == "gone.toml: error: cannot read graph file: No such file or directory\n");
}

TEST_CASE("color wraps the location, the severity and the caret only") {
  const SourceFile source("t.toml", "x = 1\n");
  const std::string colored = render(source.error_at(SourcePosition{.line = 1, .column = 1, .length = 1}, "m"), true);
  CHECK(colored.find("\x1b[1;31merror:\x1b[0m m") != std::string::npos);
  CHECK(colored.find("\x1b[32m^\x1b[0m") != std::string::npos);
}

TEST_CASE("parse_graph reads a file and resolves plugins against its directory") {
  const std::filesystem::path dir = PROCACTOR_LAUNCHER_TEST_DIR;
  const ParseResult result = parse_graph(dir / "golden" / "missing_plugin.toml");
  REQUIRE(result.ok());
  CHECK(result.graph->plugins[0].path == (dir / "golden" / "lib" / "libnothing.so").lexically_normal());
  const auto diagnostics = check_plugin_files(*result.graph);
  CHECK(diagnostics.size() == 2);
}

TEST_CASE("an unreadable file is one diagnostic without a position") {
  const ParseResult result = parse_graph("/no/such/graph.toml");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].line == 0);
  CHECK(result.diagnostics[0].message == "cannot read graph file: No such file or directory");
}

TEST_CASE("the dry-run plan has one line per route, then the unrouted actors, then the supervision tree") {
  const Graph graph = parse_ok(std::string(primes) + "[actors.lonely]\ntype = \"x.Lonely\"\nreplicas = 3\n");
  CHECK(plan_text(graph) ==
        "source (examples.RangeSource) x1 --round_robin--> worker (examples.PrimeCounter) x2\n"
        "worker (examples.PrimeCounter) x2 --round_robin--> sink (examples.Sum) x1\n"
        "lonely (x.Lonely) x3\n"
        "supervision, in start order:\n"
        "  [supervisor] one_for_one, at most 5 restarts within 30s\n"
        "    sink x1 (transient)\n"
        "    lonely x3 (transient)\n"
        "    worker x2 (transient)\n"
        "    source x1 (transient)\n");
}

TEST_CASE("a key_hash route shows its key in the plan and the DOT") {
  const Graph graph = parse_ok(R"(version = 1
[actors.a]
type = "x.A"
[actors.b]
type = "x.B"
[[routes]]
from = "a"
to = "b"
policy = "key_hash"
key = "word"
)");
  CHECK(plan_text(graph).starts_with("a (x.A) x1 --key_hash(word)--> b (x.B) x1\nsupervision, in start order:\n"));
  CHECK(to_dot(graph).find("\"a\" -> \"b\" [label=\"key_hash(word)\"];") != std::string::npos);
}

TEST_CASE("DOT output quotes identifiers and labels nodes with type and replicas") {
  const Graph graph = parse_ok(primes);
  CHECK(to_dot(graph) ==
        "digraph \"primes\" {\n"
        "  rankdir=LR;\n"
        "  node [shape=box, fontname=\"monospace\"];\n"
        "  edge [fontname=\"monospace\"];\n"
        "  \"source\" [label=\"source\\nexamples.RangeSource\\nx1\"];\n"
        "  \"worker\" [label=\"worker\\nexamples.PrimeCounter\\nx2\"];\n"
        "  \"sink\" [label=\"sink\\nexamples.Sum\\nx1\"];\n"
        "  \"source\" -> \"worker\" [label=\"round_robin\"];\n"
        "  \"worker\" -> \"sink\" [label=\"round_robin\"];\n"
        "}\n");
  CHECK(dot_quote("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"");
}

TEST_CASE("check_types reports unknown types at the type's position with a suggestion") {
  const Graph graph = parse_ok(primes);
  const auto diagnostics =
      check_types(graph, {"examples.RangeSource", "examples.PrimeCounters", "examples.Sum"});
  CHECK(messages(diagnostics) ==
        std::vector<std::string>{
            "15:8 unknown actor type 'examples.PrimeCounter' (did you mean 'examples.PrimeCounters'?)"});
  CHECK(diagnostics[0].source_line == "type = \"examples.PrimeCounter\"");
}

TEST_CASE("check_params names missing, mistyped and unknown params") {
  const Graph graph = parse_ok(primes);
  const ActorSpec& source = *graph.find_actor("source");
  const std::vector<procactor::ParamSpec> expected{
      {.name = "from", .kind = procactor::ParamKind::integer, .required = true},
      {.name = "to", .kind = procactor::ParamKind::floating, .required = true},
      {.name = "step", .kind = procactor::ParamKind::integer, .required = true},
      {.name = "label", .kind = procactor::ParamKind::string, .required = false},
  };
  CHECK(messages(check_params(graph, source, expected)) ==
        std::vector<std::string>{
            "13:10 actor 'source' (examples.RangeSource) needs param 'step' (an integer)",
            "13:27 param 'to' of actor 'source' must be a float, not an integer",
            "13:47 unknown param 'chunk' for examples.RangeSource",
        });
}

TEST_CASE("suggestions are offered only for likely typos") {
  CHECK(edit_distance("tpye", "type") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  const std::vector<std::string> names{"source", "worker", "sink"};
  CHECK(closest_match("wrker", names) == "worker");
  CHECK(closest_match("snk", names) == "sink");
  CHECK_FALSE(closest_match("database", names).has_value());
  CHECK_FALSE(closest_match("ab", std::vector<std::string>{"to"}).has_value());
}

TEST_CASE("names and types follow the documented shapes") {
  CHECK(is_valid_name("worker"));
  CHECK(is_valid_name("_w-2"));
  CHECK_FALSE(is_valid_name("my.actor"));
  CHECK_FALSE(is_valid_name("2fast"));
  CHECK_FALSE(is_valid_name(std::string(64, 'a')));
  CHECK(is_valid_type("examples.Sum"));
  CHECK(is_valid_type("a.b.C_2"));
  CHECK_FALSE(is_valid_type("Sum"));
  CHECK_FALSE(is_valid_type("examples..Sum"));
  CHECK_FALSE(is_valid_type("examples.Sum."));
  CHECK_FALSE(is_valid_type(".Sum"));
}

TEST_CASE("a boolean array param is checked as one") {
  const Graph graph = parse_ok("version = 1\n[actors.a]\ntype = \"x.A\"\nparams = { flags = [true], n = [1] }\n");
  const std::vector<procactor::ParamSpec> expected{
      {.name = "flags", .kind = procactor::ParamKind::boolean_list, .required = true},
      {.name = "n", .kind = procactor::ParamKind::boolean_list, .required = true},
  };
  CHECK_MESSAGE(messages(check_params(graph, graph.actors[0], expected)) ==
        std::vector<std::string>{"4:32 param 'n' of actor 'a' must be an array of booleans, not an array of integers"},
                joined(messages(check_params(graph, graph.actors[0], expected))));
}

namespace {

// Three levels: the root, `pipeline` under it, `stage` under `pipeline`;
// `spare` has no actor.
constexpr std::string_view nested = R"(version = 1
[supervisor]
strategy = "one_for_all"
max_restarts = 0
[groups.stage]
strategy = "rest_for_one"
max_restarts = 2
within = "10s"
parent = "pipeline"
[groups.pipeline]
strategy = "one_for_one"
[groups.spare]
[actors.source]
type = "x.Source"
group = "pipeline"
[actors.worker]
type = "x.Worker"
replicas = 2
group = "stage"
[actors.sink]
type = "x.Sink"
[[routes]]
from = "source"
to = "worker"
[[routes]]
from = "worker"
to = "sink"
)";

}  // namespace

TEST_CASE("groups are read into the library's GroupOptions, with their parents") {
  const Graph graph = parse_ok(nested);
  REQUIRE(graph.groups.size() == 4);
  CHECK(graph.root().options.strategy == procactor::Strategy::one_for_all);
  CHECK(graph.root().options.max_restarts == 0);
  const GroupSpec& stage = *graph.find_group("stage");
  CHECK(stage.options.strategy == procactor::Strategy::rest_for_one);
  CHECK(stage.options.max_restarts == 2);
  CHECK(stage.options.within == 10s);
  CHECK(stage.parent == "pipeline");
  CHECK(stage.position.line == 5);
  const GroupSpec& pipeline = *graph.find_group("pipeline");
  CHECK(pipeline.parent == "root");
  // Left out: the library's GroupOptions{}.
  CHECK(pipeline.options.max_restarts == procactor::GroupOptions{}.max_restarts);
  CHECK(pipeline.options.within == procactor::GroupOptions{}.within);
  CHECK(graph.find_actor("worker")->group == "stage");
  CHECK(graph.find_actor("sink")->group == "root");

  // Start order: sinks first; a group takes its place where its first actor starts.
  std::vector<std::string> order;
  for (std::size_t a : start_order(graph)) order.push_back(graph.actors[a].name);
  CHECK(order == std::vector<std::string>{"sink", "worker", "source"});
  const auto tree = supervision_tree(graph);
  REQUIRE(tree.size() == 4);
  REQUIRE(tree[0].size() == 2);
  CHECK_FALSE(tree[0][0].is_group);  // sink
  CHECK(tree[0][1].is_group);        // pipeline, made when worker starts
  CHECK(graph.groups[tree[0][1].index].name == "pipeline");
  CHECK(tree[3].empty());  // spare

  CHECK(plan_text(graph).ends_with("supervision, in start order:\n"
                                   "  [supervisor] one_for_all, at most 0 restarts within 1m\n"
                                   "    sink x1 (transient)\n"
                                   "    group 'pipeline' one_for_one, at most 10 restarts within 1m\n"
                                   "      group 'stage' rest_for_one, at most 2 restarts within 10s\n"
                                   "        worker x2 (transient)\n"
                                   "      source x1 (transient)\n"
                                   "  group 'spare' has no actors and is not started\n"));
  const std::string dot = to_dot(graph);
  CHECK(dot.find("  subgraph \"cluster_pipeline\" {\n"
                 "    label=\"pipeline\\none_for_one, at most 10 restarts within 1m\";\n"
                 "    style=rounded;\n"
                 "    \"source\" [label=\"source\\nx.Source\\nx1\"];\n"
                 "    subgraph \"cluster_stage\" {\n") != std::string::npos);
}

TEST_CASE("group errors point at their line: unknown parents, cycles, unknown groups, reserved and bad names") {
  const auto errors = errors_of(R"(version = 1
[groups.a]
parent = "b"
[groups.b]
parent = "a"
[groups.c]
parent = "workrs"
[groups.d]
parent = "d"
[groups.root]
[groups."bad name"]
[groups.e]
stratgy = "one_for_all"
max_restarts = -2
[groups.workers]
[actors.x]
type = "x.X"
group = "a"
[actors.y]
type = "x.Y"
group = "workes"
)");
  CHECK(contains(errors, "3:10 group parents form a cycle: a -> b -> a (each group's parent is the next); one of "
                         "them must have the top level, or another group, as its parent"));
  CHECK(contains(errors, "7:10 unknown parent group 'workrs' for group 'c' (did you mean 'workers'?)"));
  CHECK(contains(errors, "9:10 group 'd' cannot be its own parent"));
  CHECK(contains(errors, "10:9 group name 'root' is the top-level group's, which [supervisor] configures; choose "
                         "another name"));
  CHECK(contains(errors, "11:9 group name 'bad name' must start with a letter or '_' and hold only letters, digits, "
                         "'_' and '-' (at most 63)"));
  CHECK(contains(errors, "13:1 unknown key 'stratgy' in [groups.e] (did you mean 'strategy'?)"));
  CHECK(contains(errors, "14:16 'max_restarts' in [groups.e] must be between -1 and 1000000, not -2"));
  CHECK(contains(errors, "21:9 unknown group 'workes' for actor 'y' (did you mean 'workers'?)"));
  CHECK_MESSAGE(errors.size() == 8, joined(errors));
}

TEST_CASE("an unknown parent with nothing close says how groups are written") {
  CHECK(errors_of("version = 1\n[groups.a]\nparent = \"zzz\"\n[actors.x]\ntype = \"x.X\"\n") ==
        std::vector<std::string>{"3:10 unknown parent group 'zzz' for group 'a' (groups are [groups.NAME] tables; "
                                 "leave 'parent' out for the top level)"});
}

TEST_CASE("an actor may name the root group, and a group the root as its parent") {
  const Graph graph = parse_ok(R"(version = 1
[groups.g]
parent = "root"
[actors.a]
type = "x.A"
group = "root"
[actors.b]
type = "x.B"
group = "g"
)");
  CHECK(graph.find_group("g")->parent == "root");
  CHECK(graph.actors[0].group == "root");
}
