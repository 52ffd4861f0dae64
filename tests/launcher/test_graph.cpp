#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
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

TEST_CASE("a graph without a name is named after its file, which must then be a name") {
  constexpr std::string_view unnamed = "version = 1\n[actors.a]\ntype = \"x.A\"\n";
  const ParseResult good = parse_graph_text(unnamed, "/graphs/my-graph_2.toml", "/graphs");
  REQUIRE(good.ok());
  CHECK(good.graph->name == "my-graph_2");
  for (const char* file : {"/graphs/my graph.toml", "/graphs/9lives.toml", "/graphs/we;ird.toml"}) {
    const ParseResult bad = parse_graph_text(unnamed, file, "/graphs");
    REQUIRE_FALSE(bad.ok());
    const auto found = messages(bad.diagnostics);
    REQUIRE(found.size() == 1);
    CHECK_MESSAGE(found[0].starts_with("1:1 the graph has no 'name' in [graph], and its file's name cannot be one: "
                                       "graph name '" +
                                       std::filesystem::path(file).stem().string() + "' must start with"),
                  found[0]);
  }
  // A name in [graph] makes the file's name no matter.
  CHECK(parse_graph_text("version = 1\n[graph]\nname = \"g\"\n[actors.a]\ntype = \"x.A\"\n", "/graphs/my graph.toml",
                         "/graphs")
            .ok());
}

TEST_CASE("a file that is not UTF-8 is refused where its first bad byte is") {
  CHECK(messages(parse_graph_text("version = 1\n\xff\xfe[graph]\n", "t.toml", "/").diagnostics) ==
        std::vector<std::string>{"2:1 invalid TOML: not UTF-8 text: byte 0xFF cannot begin or continue a character here"});
  // After two-byte characters, the column counts characters; an overlong
  // form ('/' as C0 AF), a lone continuation byte, a surrogate and a cut
  // sequence are each refused.
  CHECK(messages(parse_graph_text("# \xc3\xa9\xc3\xa9 \xc0\xaf\n", "t.toml", "/").diagnostics) ==
        std::vector<std::string>{"1:6 invalid TOML: not UTF-8 text: byte 0xC0 cannot begin or continue a character here"});
  for (const char* bad : {"# \x80\n", "# \xed\xa0\x80\n", "# \xe2\x82"}) {
    const ParseResult result = parse_graph_text(bad, "t.toml", "/");
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].message.starts_with("invalid TOML: not UTF-8 text: byte 0x"));
    CHECK(result.diagnostics[0].line == 1);
    CHECK(result.diagnostics[0].column == 3);
  }
  // Well-formed text of every length passes on to TOML.
  CHECK(parse_graph_text("version = 1\n# \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n[actors.a]\ntype = \"x.A\"\n", "t.toml",
                         "/")
            .ok());
}

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
  CHECK(auto_replicas() == std::max(1U, std::thread::hardware_concurrency()));
  // A node of a multi-node run is told the launching host's count.
  set_auto_replicas(5);
  CHECK(parse_ok("version = 1\n[actors.w]\ntype = \"x.W\"\nreplicas = \"auto\"\n").actors[0].replicas == 5);
  set_auto_replicas(0);
  CHECK(auto_replicas() == std::max(1U, std::thread::hardware_concurrency()));
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
  // Another version's file is read by no rule of this one: its version is
  // all that is said, not also that it has no actors or unknown keys.
  CHECK(errors_of("version = 2\n") ==
        std::vector<std::string>{"1:11 unsupported version 2 (this procactor reads version 1)"});
  CHECK(errors_of("version = 2\nnodes = 3\n[stages.a]\n") ==
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

TEST_CASE("a diagnostic writes out the control characters of the strings it quotes") {
  const SourceFile source("t.toml", "to = \"nope\\u001b]0;owned\\u0007\"\n");
  const Diagnostic diagnostic = source.error_at(SourcePosition{.line = 1, .column = 6, .length = 1},
                                                "route to unknown actor 'nope\x1b]0;owned\x07'");
  CHECK(render(diagnostic) ==
        "t.toml:1:6: error: route to unknown actor 'nope\\x1b]0;owned\\x07'\n"
        "    1 | to = \"nope\\u001b]0;owned\\u0007\"\n      |      ^\n");
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
  CHECK(colored.find("\x1b[1mt.toml:1:1:\x1b[0m ") == 0);
  CHECK(colored.find("\x1b[1m\x1b[31merror:\x1b[0m m") != std::string::npos);
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

TEST_CASE("check_params names a number out of its declared range at its position") {
  const Graph graph = parse_ok(primes);
  const ActorSpec& source = *graph.find_actor("source");
  using procactor::ParamKind;
  const auto problems = [&](std::optional<double> from_min, std::optional<double> to_max) {
    const std::vector<procactor::ParamSpec> expected{
        {.name = "from", .kind = ParamKind::integer, .minimum = from_min},
        {.name = "to", .kind = ParamKind::integer, .maximum = to_max},
        {.name = "chunk", .kind = ParamKind::integer},
    };
    return messages(check_params(graph, source, expected));
  };
  CHECK(problems(std::nullopt, std::nullopt).empty());
  CHECK(problems(2, 20'000'000).empty());  // the bounds are in range
  CHECK(problems(3, 1000) == std::vector<std::string>{
                                 "13:19 param 'from' of actor 'source' must be at least 3, not 2",
                                 "13:27 param 'to' of actor 'source' must be at most 1000, not 20000000",
                             });
  // Each number of a list, and both bounds named when both are set.
  const procactor::ParamSpec sizes{.name = "sizes", .kind = ParamKind::integer_list, .minimum = 1, .maximum = 8};
  CHECK(procactor::param_problem(sizes, std::vector<std::int64_t>{1, 8}).empty());
  CHECK(procactor::param_problem(sizes, std::vector<std::int64_t>{4, 9}) == "must hold numbers from 1 to 8, not 9");
  const procactor::ParamSpec ratio{.name = "ratio", .kind = ParamKind::floating, .minimum = 0, .maximum = 1};
  CHECK(procactor::param_problem(ratio, 0.5).empty());
  CHECK(procactor::param_problem(ratio, -0.5) == "must be from 0 to 1, not -0.5");
  CHECK(procactor::param_problem(ratio, std::int64_t{1}) == "must be a float, not an integer");
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
  CHECK(contains(errors, "11:9 group name 'bad name' must start with an ASCII letter or '_' and hold only ASCII "
                         "letters, digits, '_' and '-' (at most 63)"));
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

namespace {

// A [cluster] of two nodes, and actors spread, pinned and left to the first node.
constexpr std::string_view two_nodes = R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "alpha" }, { name = "n1", host = "beta" } ]
[actors.source]
type = "x.Source"
node = "n1"
[actors.worker]
type = "x.Worker"
replicas = 5
nodes = ["n0", "n1"]
[actors.sink]
type = "x.Sink"
[[routes]]
from = "source"
to = "worker"
[[routes]]
from = "worker"
to = "sink"
)";

// The errors of a graph whose actor `a` has the given extra lines, under a
// [cluster] of n0 (alpha) and n1 (beta).
std::vector<std::string> placement_errors(std::string_view actor_lines) {
  return errors_of("version = 1\n"
                   "[cluster]\n"
                   "nodes = [ { name = \"n0\", host = \"alpha\" }, { name = \"n1\", host = \"beta\" } ]\n"
                   "[actors.a]\n"
                   "type = \"x.A\"\n" +
                   std::string(actor_lines));
}

// The errors of a graph whose [cluster] table has the given lines.
std::vector<std::string> cluster_errors(std::string_view cluster_lines) {
  return errors_of("version = 1\n[actors.a]\ntype = \"x.A\"\n[cluster]\n" + std::string(cluster_lines));
}

// Each case's lines give exactly its one error.
struct single_error {
  std::string_view lines;
  std::string_view error;
};

void check_each(std::vector<std::string> (*errors)(std::string_view), std::initializer_list<single_error> cases) {
  for (const single_error& c : cases) {
    CAPTURE(c.lines);
    CHECK(errors(c.lines) == std::vector<std::string>{std::string(c.error)});
  }
}

}  // namespace

TEST_CASE("[cluster] and the actors' node and nodes are read into the model") {
  const Graph graph = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "alpha" }, { name = "n1", host = "beta" } ]
launcher = "srun"
mpi_args = ["--mca", "btl_tcp_if_include", "veth0"]
[actors.a]
type = "x.A"
nodes = ["n1", "n0"]
[actors.b]
type = "x.B"
node = "n1"
[actors.c]
type = "x.C"
)");
  REQUIRE(graph.cluster.has_value());
  const ClusterSpec& cluster = *graph.cluster;
  REQUIRE(cluster.nodes.size() == 2);
  CHECK(cluster.nodes[0].name == "n0");
  CHECK(cluster.nodes[0].host == "alpha");
  CHECK(cluster.nodes[1].name == "n1");
  CHECK(cluster.nodes[1].host == "beta");
  CHECK(cluster.nodes[1].position.line == 3);
  CHECK(cluster.position.line == 2);
  CHECK(cluster.launcher == "srun");
  CHECK(cluster.mpi_args == std::vector<std::string>{"--mca", "btl_tcp_if_include", "veth0"});
  CHECK(cluster.find_node("n1") == &cluster.nodes[1]);
  CHECK(cluster.find_node("n2") == nullptr);
  CHECK(graph.actors[0].nodes == std::vector<std::string>{"n1", "n0"});
  CHECK(graph.actors[0].nodes_position.line == 8);
  CHECK(graph.actors[1].nodes == std::vector<std::string>{"n1"});
  CHECK(graph.actors[2].nodes.empty());
  CHECK(graph.actors[2].nodes_position.line == graph.actors[2].position.line);
}

TEST_CASE("[cluster] defaults to mpirun with no arguments, and one node is a cluster") {
  const Graph graph = parse_ok("version = 1\n[cluster]\nnodes = [{ name = \"only\", host = \"localhost\" }]\n"
                               "[actors.a]\ntype = \"x.A\"\nreplicas = 3\n");
  REQUIRE(graph.cluster.has_value());
  CHECK(graph.cluster->launcher == "mpirun");
  CHECK(graph.cluster->mpi_args.empty());
  CHECK_FALSE(graph.cluster->gateway_spin);
  CHECK(graph.cluster->nodes.size() == 1);
  CHECK(instances_per_node(graph) == std::vector<std::size_t>{3});
  // [[cluster.nodes]] is the same array, written as tables.
  const Graph tables = parse_ok("version = 1\n[[cluster.nodes]]\nname = \"n0\"\nhost = \"a\"\n"
                                "[[cluster.nodes]]\nname = \"n1\"\nhost = \"b\"\n[actors.a]\ntype = \"x.A\"\n");
  REQUIRE(tables.cluster.has_value());
  CHECK(tables.cluster->nodes.size() == 2);
}

TEST_CASE("a graph without [cluster] has none, and everything on one node") {
  const Graph graph = parse_ok(primes);
  CHECK_FALSE(graph.cluster.has_value());
  CHECK(node_for_replica(graph, graph.actors[1], 1) == 0);
  CHECK(instances_per_node(graph) == std::vector<std::size_t>{4});
}

TEST_CASE("node_for_replica spreads over nodes, pins to one, and defaults to the first") {
  const Graph graph = parse_ok(two_nodes);
  const ActorSpec& source = *graph.find_actor("source");
  const ActorSpec& worker = *graph.find_actor("worker");
  const ActorSpec& sink = *graph.find_actor("sink");
  // Pinned: every replica on n1.
  CHECK(node_for_replica(graph, source, 0) == 1);
  CHECK(node_for_replica(graph, source, 7) == 1);
  // Spread: replica i on nodes[i mod 2].
  for (std::uint32_t replica = 0; replica < 5; ++replica) {
    CAPTURE(replica);
    CHECK(node_for_replica(graph, worker, replica) == replica % 2);
  }
  // Neither: the first node.
  CHECK(node_for_replica(graph, sink, 0) == 0);
  CHECK(instances_per_node(graph) == std::vector<std::size_t>{4, 3});

  // The list's order is the actor's, not [cluster]'s.
  const Graph reversed = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" }, { name = "n2", host = "c" } ]
[actors.w]
type = "x.W"
replicas = 4
nodes = ["n2", "n0"]
)");
  const ActorSpec& w = reversed.actors[0];
  CHECK(node_for_replica(reversed, w, 0) == 2);
  CHECK(node_for_replica(reversed, w, 1) == 0);
  CHECK(node_for_replica(reversed, w, 2) == 2);
  CHECK(node_for_replica(reversed, w, 3) == 0);
  CHECK(instances_per_node(reversed) == std::vector<std::size_t>{2, 0, 2});
}

TEST_CASE("node_for_replica spreads replicas = \"auto\" like any count") {
  const Graph graph = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" } ]
[actors.w]
type = "x.W"
replicas = "auto"
nodes = ["n0", "n1"]
)");
  const ActorSpec& w = graph.actors[0];
  REQUIRE(w.replicas == auto_replicas());
  for (std::uint32_t replica = 0; replica < w.replicas; ++replica) {
    CAPTURE(replica);
    CHECK(node_for_replica(graph, w, replica) == replica % 2);
  }
  CHECK(instances_per_node(graph) ==
        std::vector<std::size_t>{(auto_replicas() + 1) / 2, auto_replicas() / 2});
}

TEST_CASE("[cluster] without nodes, or with an empty or invalid list, is an error at its line") {
  check_each(cluster_errors, {
      {"launcher = \"mpirun\"\n",
       "4:1 [cluster] has no 'nodes' (write nodes = [{ name = \"n0\", host = \"alpha\" }])"},
      {"nodes = []\n",
       "5:9 'nodes' in [cluster] must list at least one node"},
      {"nodes = \"n0\"\n",
       "5:9 'nodes' in [cluster] must be an array of tables such as "
       "[{ name = \"n0\", host = \"alpha\" }], not a string"},
      {"nodes = [\"n0\"]\n",
       "5:10 each node in [cluster] must be a table such as "
       "{ name = \"n0\", host = \"alpha\" }, not a string"},
      {"nodes = [{}]\n",
       "5:10 empty node in [cluster]; a node needs a name and a host: "
       "{ name = \"n0\", host = \"alpha\" }"},
  });
  check_each(errors_of, {
      {"version = 1\ncluster = 3\n[actors.a]\ntype = \"x.A\"\n",
       "2:11 'cluster' must be a table (write [cluster]), not an integer"},
  });
}

TEST_CASE("a node needs a valid, unique name and a host") {
  check_each(cluster_errors, {
      {"nodes = [{ host = \"alpha\" }]\n",
       "5:10 node in [cluster] has no 'name'"},
      {"nodes = [{ name = \"n0\" }]\n",
       "5:10 node 'n0' in [cluster] has no 'host'"},
      {"nodes = [{ name = \"n0\", host = \"\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must not be empty"},
      {"nodes = [{ name = \"n0\", host = \"a b\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
       "'-' and '_', first a letter, a digit or '_'): 'a b' has a blank"},
      {"nodes = [{ name = \"n0\", host = \"h1,h2\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
       "'-' and '_', first a letter, a digit or '_'): 'h1,h2' has ','"},
      {"nodes = [{ name = \"n0\", host = \"localhost:4\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
       "'-' and '_', first a letter, a digit or '_'): 'localhost:4' has ':'"},
      {"nodes = [{ name = \"n0\", host = \"-np\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
       "'-' and '_', first a letter, a digit or '_'): '-np' begins with '-'"},
      {"nodes = [{ name = \"n0\", host = \"h\u00e9te\" }]\n",
       "5:32 'host' of node 'n0' in [cluster] must be a host name or an IPv4 address (letters, digits, '.', "
       "'-' and '_', first a letter, a digit or '_'): 'h\xc3\xa9te' has a character other than those"},
      {"nodes = [{ name = \"n0\", host = 7 }]\n",
       "5:32 'host' in a [cluster] node must be a string, not an integer"},
      {"nodes = [{ name = \"node 0\", host = \"a\" }]\n",
       "5:19 node name 'node 0' must start with an ASCII letter or '_' and hold only ASCII letters, "
       "digits, '_' and '-' (at most 63)"},
      {"nodes = [{ name = \"n0\", host = \"a\" }, { name = \"n0\", host = \"b\" }]\n",
       "5:48 node 'n0' is listed twice in [cluster] (first at column 10)"},
      {"nodes = [\n  { name = \"n0\", host = \"a\" },\n  { name = \"n0\", host = \"b\" },\n]\n",
       "7:12 node 'n0' is listed twice in [cluster] (first at line 6)"},
  });
}

TEST_CASE("unknown keys in [cluster] and in its nodes are errors with a suggestion") {
  const auto errors = cluster_errors("nodes = [{ name = \"n0\", hots = \"a\" }]\nlauncer = \"srun\"\nmpi = []\n");
  CHECK(errors == std::vector<std::string>{
                      "5:10 node 'n0' in [cluster] has no 'host'",
                      "5:25 unknown key 'hots' in a [cluster] node (did you mean 'host'?)",
                      "6:1 unknown key 'launcer' in [cluster] (did you mean 'launcher'?)",
                      "7:1 unknown key 'mpi' in [cluster]",
                  });
  // The top-level key itself.
  CHECK(contains(errors_of("version = 1\n[clustr]\n[actors.a]\ntype = \"x.A\"\n"),
                 "2:2 unknown key 'clustr' at the top level (did you mean 'cluster'?)"));
}

TEST_CASE("the launcher is mpirun or srun, mpi_args an array of strings, gateway_spin a boolean") {
  check_each(cluster_errors, {
      {"nodes = [{ name = \"n0\", host = \"a\" }]\nlauncher = \"mpirn\"\n",
       "6:12 unknown launcher 'mpirn' (did you mean 'mpirun'?)"},
      {"nodes = [{ name = \"n0\", host = \"a\" }]\nlauncher = \"mpiexec.hydra\"\n",
       "6:12 unknown launcher 'mpiexec.hydra' (expected mpirun or srun)"},
      {"nodes = [{ name = \"n0\", host = \"a\" }]\nmpi_args = \"--mca btl tcp\"\n",
       "6:12 'mpi_args' in [cluster] must be an array of strings, not a string"},
      {"nodes = [{ name = \"n0\", host = \"a\" }]\nmpi_args = [\"-np\", 4]\n",
       "6:20 each element of 'mpi_args' in [cluster] must be a string, not an integer"},
      {"nodes = [{ name = \"n0\", host = \"a\" }]\ngateway_spin = \"yes\"\n",
       "6:16 'gateway_spin' in [cluster] must be true or false, not a string"},
  });
  const Graph spinning = parse_ok("version = 1\n[cluster]\nnodes = [{ name = \"n0\", host = \"a\" }]\n"
                                  "gateway_spin = true\n[actors.a]\ntype = \"x.A\"\n");
  REQUIRE(spinning.cluster.has_value());
  CHECK(spinning.cluster->gateway_spin);
}

TEST_CASE("start_timeout in [cluster] is a duration longer than zero and 30 s unless given") {
  check_each(
      cluster_errors,
      {
          {"nodes = [{ name = \"n0\", host = \"a\" }]\nstart_timeout = 30\n",
           "6:17 'start_timeout' in [cluster] must be a duration string such as \"5s\" or \"250ms\", not an integer"},
          {"nodes = [{ name = \"n0\", host = \"a\" }]\nstart_timeout = \"0s\"\n",
           "6:17 'start_timeout' in [cluster] must be longer than zero"},
      });
  const std::string head = "version = 1\n[cluster]\nnodes = [{ name = \"n0\", host = \"a\" }]\n";
  const std::string actor = "[actors.a]\ntype = \"x.A\"\n";
  const Graph plain = parse_ok(head + actor);
  REQUIRE(plain.cluster.has_value());
  CHECK(plain.cluster->start_timeout == std::chrono::seconds(30));
  const Graph given = parse_ok(head + "start_timeout = \"2m\"\n" + actor);
  REQUIRE(given.cluster.has_value());
  CHECK(given.cluster->start_timeout == std::chrono::minutes(2));
  CHECK(given.duration_text("cluster.start_timeout", given.cluster->start_timeout) == "2m");
}

TEST_CASE("an actor's node and nodes must name nodes of [cluster], with a suggestion") {
  check_each(placement_errors, {
      {"node = \"n00\"\n",
       "6:8 unknown node 'n00' for actor 'a' (did you mean 'n0'?)"},
      // Too short to be a likely typo of either.
      {"node = \"n2\"\n",
       "6:8 unknown node 'n2' for actor 'a' (expected n0 or n1)"},
      {"node = \"gamma\"\n",
       "6:8 unknown node 'gamma' for actor 'a' (expected n0 or n1)"},
      {"nodes = [\"n0\", \"n11\"]\n",
       "6:16 unknown node 'n11' for actor 'a' (did you mean 'n1'?)"},
      {"node = 1\n",
       "6:8 'node' in [actors.a] must be a string, not an integer"},
      {"nodes = \"n0\"\n",
       "6:9 'nodes' in [actors.a] must be an array of node names, not a string"},
      {"nodes = [\"n0\", 1]\n",
       "6:16 each node in 'nodes' in [actors.a] must be a node name, not an integer"},
      {"nod = \"n0\"\n",
       "6:1 unknown key 'nod' in [actors.a] (did you mean 'node'?)"},
  });
}

TEST_CASE("an actor's nodes are not empty, hold no duplicate, and exclude node") {
  check_each(placement_errors, {
      {"nodes = []\n",
       "6:9 'nodes' in [actors.a] must list at least one node; leave it out to place "
       "every replica on the first node"},
      {"nodes = [\"n0\", \"n1\", \"n0\"]\n",
       "6:22 node 'n0' is listed twice in 'nodes' in [actors.a]"},
      {"node = \"n0\"\nnodes = [\"n1\"]\n",
       "7:9 'node' and 'nodes' in [actors.a] exclude each other: 'node' pins every "
       "replica to one node, 'nodes' spreads them; keep one"},
      {"nodes = [\"n1\"]\nnode = \"n0\"\n",
       "7:8 'node' and 'nodes' in [actors.a] exclude each other: 'node' pins every "
       "replica to one node, 'nodes' spreads them; keep one"},
  });
}

TEST_CASE("node and nodes need a [cluster]") {
  check_each(errors_of, {
      {"version = 1\n[actors.a]\ntype = \"x.A\"\nnode = \"n0\"\n",
       "4:8 'node' in [actors.a] needs a [cluster] listing the nodes, and the file "
       "has none (add one, or leave 'node' out to run on this host)"},
      {"version = 1\n[actors.a]\ntype = \"x.A\"\nnodes = [\"n0\", \"n1\"]\n",
       "4:9 'nodes' in [actors.a] needs a [cluster] listing the nodes, and the file "
       "has none (add one, or leave 'nodes' out to run on this host)"},
  });
}

TEST_CASE("a broken [cluster] does not make every actor's node unknown too") {
  const auto errors = errors_of(R"(version = 1
[cluster]
nodes = [ { name = "n0" }, { name = "n1", host = "beta" } ]
[actors.a]
type = "x.A"
nodes = ["n0", "n1"]
)");
  CHECK(errors == std::vector<std::string>{"3:11 node 'n0' in [cluster] has no 'host'"});
}

TEST_CASE("the plan shows each node with its host, its instance count and its instances") {
  CHECK(plan_text(parse_ok(two_nodes)) ==
        "source (x.Source) x1 --round_robin--> worker (x.Worker) x5\n"
        "worker (x.Worker) x5 --round_robin--> sink (x.Sink) x1\n"
        "supervision, in start order:\n"
        "  [supervisor] one_for_one, at most 10 restarts within 1m\n"
        "    sink x1 (transient)\n"
        "    worker x5 (transient)\n"
        "    source x1 (transient)\n"
        "cluster of 2 nodes, launcher mpirun:\n"
        "  node n0 (alpha): 4 instances\n"
        "    sink.0\n"
        "    worker.0 worker.2 worker.4\n"
        "  node n1 (beta): 3 instances\n"
        "    worker.1 worker.3\n"
        "    source.0\n");
  // A node nothing is placed on, and launcher arguments as a shell would need them.
  const Graph idle = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "spare", host = "b" } ]
launcher = "srun"
mpi_args = ["--export", "ALL,X=a b", ""]
[actors.a]
type = "x.A"
)");
  // Everything on one node: launch runs it here, and the plan says so.
  const std::string plan = plan_text(idle);
  CHECK(plan.ends_with("cluster of 2 nodes, every instance on node n0: it runs here, as a graph without [cluster] "
                       "(no srun; host a is not used):\n"
                       "  node n0 (a): 1 instance\n"
                       "    a.0\n"
                       "  node spare (b): no instances\n"));
  CHECK(only_node(idle) == 0U);
  CHECK_FALSE(only_node(parse_ok(two_nodes)).has_value());
  CHECK_FALSE(only_node(parse_ok("version = 1\n[actors.a]\ntype = \"x.A\"\n")).has_value());
  const Graph spread = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" } ]
launcher = "srun"
mpi_args = ["--export", "ALL,X=a b", ""]
[actors.a]
type = "x.A"
nodes = ["n0", "n1"]
replicas = 2
)");
  CHECK(plan_text(spread).ends_with("cluster of 2 nodes, launcher srun --export 'ALL,X=a b' '':\n"
                                    "  node n0 (a): 1 instance\n"
                                    "    a.0\n"
                                    "  node n1 (b): 1 instance\n"
                                    "    a.1\n"));
}

TEST_CASE("a graph placed on several nodes needs a procactor built with MPI") {
  // Without MPI: the one error that validate, launch --dry-run and launch give.
  const std::optional<std::string> error = needs_mpi_error(parse_ok(two_nodes), false);
  REQUIRE(error.has_value());
  CHECK(*error ==
        "graph test is placed on 2 nodes, and this procactor was built without MPI (PROCACTOR_WITH_MPI=OFF): "
        "install openmpi-bin and libopenmpi-dev, then configure and build again with "
        "`cmake -S . -B build -DPROCACTOR_WITH_MPI=ON && cmake --build build`");
  // With MPI it runs.
  CHECK_FALSE(needs_mpi_error(parse_ok(two_nodes), true).has_value());
  // No [cluster], or every instance on one node: it runs here, MPI or not.
  CHECK_FALSE(needs_mpi_error(parse_ok("version = 1\n[actors.a]\ntype = \"x.A\"\n"), false).has_value());
  CHECK_FALSE(needs_mpi_error(parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "spare", host = "b" } ]
[actors.a]
type = "x.A"
)"),
                              false)
                  .has_value());
}

TEST_CASE("DOT draws one cluster per node holding the replicas placed there") {
  CHECK(to_dot(parse_ok(two_nodes)) ==
        "digraph \"test\" {\n"
        "  rankdir=LR;\n"
        "  node [shape=box, fontname=\"monospace\"];\n"
        "  edge [fontname=\"monospace\"];\n"
        "  subgraph \"cluster_n0\" {\n"
        "    label=\"node n0 (alpha)\";\n"
        "    style=dashed;\n"
        "    \"worker@n0\" [label=\"worker\\nx.Worker\\nx3 of 5\"];\n"
        "    \"sink@n0\" [label=\"sink\\nx.Sink\\nx1\"];\n"
        "  }\n"
        "  subgraph \"cluster_n1\" {\n"
        "    label=\"node n1 (beta)\";\n"
        "    style=dashed;\n"
        "    \"source@n1\" [label=\"source\\nx.Source\\nx1\"];\n"
        "    \"worker@n1\" [label=\"worker\\nx.Worker\\nx2 of 5\"];\n"
        "  }\n"
        "  \"source@n1\" -> \"worker@n0\" [label=\"round_robin\"];\n"
        "  \"source@n1\" -> \"worker@n1\" [label=\"round_robin\"];\n"
        "  \"worker@n0\" -> \"sink@n0\" [label=\"round_robin\"];\n"
        "  \"worker@n1\" -> \"sink@n0\" [label=\"round_robin\"];\n"
        "}\n");
}

TEST_CASE("in DOT a group is drawn on each node it has replicas on, and an empty one once") {
  const std::string dot = to_dot(parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" } ]
[groups.outer]
[groups.inner]
parent = "outer"
[groups.empty]
parent = "outer"
[actors.w]
type = "x.W"
replicas = 2
nodes = ["n1", "n0"]
group = "inner"
[actors.p]
type = "x.P"
node = "n1"
group = "outer"
)"));
  CHECK(dot.find("    subgraph \"cluster_n0.outer\" {\n"
                 "      label=\"outer\\none_for_one, at most 10 restarts within 1m\";\n"
                 "      style=rounded;\n"
                 "      subgraph \"cluster_n0.inner\" {\n") != std::string::npos);
  CHECK(dot.find("\"cluster_n1.outer\"") != std::string::npos);
  CHECK(dot.find("\"cluster_n1.inner\"") != std::string::npos);
  // No actor at all: drawn once, on the first node its parent is drawn on.
  CHECK(dot.find("\"cluster_n0.empty\"") != std::string::npos);
  CHECK(dot.find("\"cluster_n1.empty\"") == std::string::npos);
  // p runs on n1 alone.
  CHECK(dot.find("\"p@n1\" [label=\"p\\nx.P\\nx1\"]") != std::string::npos);
  CHECK(dot.find("\"p@n0\"") == std::string::npos);
}
