// Tests of cluster_control.hpp: the request lines and frames that carry
// control requests to the nodes of a multi-node run and their replies back,
// the nodes each request goes to, and how their replies are merged.
#include <csignal>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cluster_control.hpp"
#include "control_protocol.hpp"
#include "graph.hpp"

using namespace procactor::launcher;
using namespace procactor::launcher::relay;
using Verb = ControlRequest::Verb;
using nlohmann::json;

namespace {

// Two nodes: source.0 and worker.0/.2 on n0, worker.1 and sink.0 on n1.
constexpr std::string_view demo = R"(version = 1
[graph]
name = "demo"
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" } ]
[actors.source]
type = "x.Source"
[actors.worker]
type = "x.Worker"
replicas = 3
nodes = ["n0", "n1"]
[actors.sink]
type = "x.Sink"
node = "n1"
[[routes]]
from = "source"
to = "worker"
[[routes]]
from = "worker"
to = "sink"
)";

Graph parse_ok(std::string_view text) {
  ParseResult result = parse_graph_text(text, "test.toml", "/graphs/demo");
  if (!result.ok()) {
    std::string rendered;
    for (const Diagnostic& diagnostic : result.diagnostics) rendered += render(diagnostic);
    FAIL(rendered);
  }
  return std::move(*result.graph);
}

ControlRequest status() { return ControlRequest{Verb::status, std::nullopt, {}, 0}; }
ControlRequest ping() { return ControlRequest{Verb::ping, std::nullopt, {}, 0}; }
ControlRequest stop(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  return ControlRequest{Verb::stop, timeout, {}, 0};
}
ControlRequest kill(std::string name, std::optional<std::uint32_t> replica, int signal = SIGKILL) {
  return ControlRequest{Verb::kill, std::nullopt, {std::move(name), replica}, signal};
}
ControlRequest restart(std::string name, std::optional<std::uint32_t> replica, bool force = false,
                       bool drain = false) {
  return ControlRequest{Verb::restart, std::nullopt, {std::move(name), replica}, 0, force, drain};
}
ControlRequest inspect(std::string name, std::optional<std::uint32_t> replica) {
  return ControlRequest{Verb::inspect, std::nullopt, {std::move(name), replica}, 0};
}

addressed_request accepted(std::string_view line) {
  auto result = parse_request_line(line);
  const auto* error = std::get_if<std::string>(&result);
  INFO(std::string(line));
  REQUIRE_MESSAGE(error == nullptr, (error != nullptr ? *error : std::string()));
  return std::get<addressed_request>(std::move(result));
}

std::string refused(std::string_view line) {
  auto result = parse_request_line(line);
  INFO(std::string(line));
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(std::move(result));
}

// The frame mark, then `rest`: spelled out so that no hex escape swallows
// the letters after it.
std::string marked(std::string_view rest) { return std::string(1, frame_mark) + std::string(rest); }

frame parsed_frame(std::string_view line) {
  auto result = parse_frame(line);
  INFO(std::string(line));
  REQUIRE(result.has_value());
  return std::move(*result);
}

// A status row as a node reports it.
json status_row(std::string_view name, std::string_view node, std::string_view state, int pid) {
  return {{"name", name}, {"type", "x.T"}, {"node", node}, {"state", state}, {"pid", pid}, {"restarts", 0}};
}

// The rows of a status reply, in graph order.
std::vector<std::string> names_of(const json& rows) {
  std::vector<std::string> names;
  for (const json& row : rows) names.push_back(row.at("name").get<std::string>());
  return names;
}

const json& row_named(const json& rows, std::string_view name) {
  for (const json& row : rows) {
    if (row.at("name") == name) return row;
  }
  FAIL("no row " << std::string(name));
  static const json none;
  return none;
}

// Node n0's status reply: its own instances running, n1's remote.
std::string n0_status() {
  return json{{"run", "demo-n0"},
              {"graph", "demo"},
              {"actors",
               {status_row("source.0", "n0", "running", 10), status_row("worker.0", "n0", "running", 11),
                status_row("worker.1", "n1", "remote", 0), status_row("worker.2", "n0", "running", 12),
                status_row("sink.0", "n1", "remote", 0)}},
              {"shared_memory_bytes", 100},
              {"corruptions", 0}}
      .dump();
}

// Node n1's status reply: the other way round.
std::string n1_status() {
  return json{{"run", "demo-n1"},
              {"graph", "demo"},
              {"actors",
               {status_row("source.0", "n0", "remote", 0), status_row("worker.0", "n0", "remote", 0),
                status_row("worker.1", "n1", "running", 21), status_row("worker.2", "n0", "remote", 0),
                status_row("sink.0", "n1", "stopped", 22)}},
              {"shared_memory_bytes", 50},
              {"corruptions", 2}}
      .dump();
}

json merged_json(const Graph& graph, const ControlRequest& request, const std::vector<node_reply>& replies) {
  const std::string merged = merge_replies(graph, "demo", request, replies);
  INFO(merged);
  json value = json::parse(merged, nullptr, false);
  REQUIRE(value.is_object());
  return value;
}

}  // namespace

TEST_CASE("every request survives a request line with its id and node") {
  const std::vector<ControlRequest> requests = {
      status(),
      stop(),
      stop(std::chrono::seconds(5)),
      stop(std::chrono::nanoseconds(0)),
      restart("worker", 1U),
      restart("worker", 1U, true, false),
      restart("sink", std::nullopt, false, true),
      kill("worker", 1U, SIGTERM),
      kill("sink", std::nullopt, SIGKILL),
      inspect("worker", 2U),
      inspect("worker", std::nullopt),
      ping(),
  };
  const std::vector<std::pair<std::uint64_t, std::size_t>> addresses = {
      {0, 0}, {1, 1}, {42, 17}, {std::numeric_limits<std::uint64_t>::max(), 3}};
  for (const ControlRequest& request : requests) {
    for (const auto& [id, node] : addresses) {
      const std::string line = request_line(id, node, request);
      CAPTURE(line);
      CHECK(line.find('\n') == std::string::npos);
      const addressed_request back = accepted(line);
      CHECK(back.id == id);
      CHECK(back.node == node);
      CHECK(back.request == request);
    }
  }
  // The line is the id, the node, and the request as a client writes it.
  CHECK(request_line(7, 1, kill("worker", 1U, SIGTERM)) == "7 1 kill worker.1 " + std::to_string(SIGTERM));
  CHECK(request_line(3, 0, status()) == "3 0 status");
  CHECK(request_line(9, 0, stop(std::chrono::seconds(2))) == "9 0 stop 2000000000");
  CHECK(request_line(4, 1, restart("sink", std::nullopt, false, true)) == "4 1 restart sink drain");

  // Lines written by hand read as meant.
  const addressed_request killed = accepted("7 1 kill worker.1 TERM");
  CHECK(killed.id == 7);
  CHECK(killed.node == 1);
  CHECK(killed.request == kill("worker", 1U, SIGTERM));
  CHECK(accepted("1 0 status").request == status());
  CHECK(accepted("2 0 stop").request == stop());
  CHECK(accepted("2 0 stop 1500").request == stop(std::chrono::nanoseconds(1500)));
  CHECK(accepted("5 1 restart worker.2 force").request == restart("worker", 2U, true, false));
  CHECK(accepted("5 1 restart worker drain").request == restart("worker", std::nullopt, false, true));
  CHECK(accepted("6 1 inspect sink").request == inspect("sink", std::nullopt));
  CHECK(accepted("8 0 ping").request == ping());
}

TEST_CASE("a request line with a trailing carriage return is accepted") {
  const addressed_request status_line = accepted("3 1 status\r");
  CHECK(status_line.id == 3);
  CHECK(status_line.node == 1);
  CHECK(status_line.request == status());
  const addressed_request kill_line = accepted("4 0 kill worker.1 TERM\r");
  CHECK(kill_line.request == kill("worker", 1U, SIGTERM));
  CHECK(accepted("5 1 stop 10\r").request == stop(std::chrono::nanoseconds(10)));
}

TEST_CASE("a broken request line is refused with a reason, and its id is still found") {
  // No id.
  CHECK(refused("") == "a relayed request begins with its number");
  CHECK(refused("status") == "a relayed request begins with its number");
  CHECK(refused("-1 0 status") == "a relayed request begins with its number");
  CHECK(refused("18446744073709551616 0 status") == "a relayed request begins with its number");
  CHECK(refused(" 1 0 status") == "a relayed request begins with its number");
  // No node, or one that is not a number.
  CHECK(refused("5") == "a relayed request names its node by number after its own");
  CHECK(refused("5 n1 status") == "a relayed request names its node by number after its own");
  CHECK(refused("5 status") == "a relayed request names its node by number after its own");
  CHECK(refused("5 -1 status") == "a relayed request names its node by number after its own");
  // A bad request after a good address: the control protocol's own reason.
  CHECK(refused("5 0 bogus").starts_with("unknown request 'bogus'"));
  CHECK(refused("5 0 kill worker.1 SIGNOPE").starts_with("unknown signal 'SIGNOPE'"));
  CHECK_FALSE(refused("5 0 ").empty());
  CHECK_FALSE(refused("5 0 restart a force drain").empty());

  // The id of a line whose request part is broken.
  CHECK(request_id("5 0 bogus") == std::optional<std::uint64_t>(5));
  CHECK(request_id("12 n1 status") == std::optional<std::uint64_t>(12));
  CHECK(request_id("12") == std::optional<std::uint64_t>(12));
  CHECK(request_id("12\r") == std::optional<std::uint64_t>(12));
  CHECK(request_id("18446744073709551615 0 nonsense") ==
        std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()));
  // No id to find.
  CHECK_FALSE(request_id("").has_value());
  CHECK_FALSE(request_id("status").has_value());
  CHECK_FALSE(request_id("x5 0 status").has_value());
  CHECK_FALSE(request_id("18446744073709551616 0 status").has_value());
}

TEST_CASE("a reply frame is one line that reads back as the text it carries") {
  CHECK(reply_frame(3, 1, "ok") == marked("reply 3 1 ok"));
  std::string long_text;
  for (std::size_t i = 0; long_text.size() < 200 * 1024; ++i) {
    long_text += "row " + std::to_string(i) + " \\ back\\slash\r\n";
  }
  const std::vector<std::string> texts = {
      "ok",
      "",
      "line one\nline two\n",
      "C:\\dir\\file\\",
      "\\n is not a newline",
      "crlf\r\nend\r",
      "\n\n\\\\\r",
      "{\"run\":\"demo-n0\",\"actors\":[]}",
      std::string("nul\0inside", 10),
      long_text,
  };
  for (const std::string& text : texts) {
    CAPTURE(text.size());
    for (const auto& [id, node] : std::vector<std::pair<std::uint64_t, std::size_t>>{
             {0, 0}, {3, 1}, {std::numeric_limits<std::uint64_t>::max(), 42}}) {
      const std::string line = reply_frame(id, node, text);
      CHECK(line.front() == frame_mark);
      CHECK(line.find('\n') == std::string::npos);
      CHECK(line.find('\r') == std::string::npos);
      const frame back = parsed_frame(line);
      CHECK(back.kind == frame::Kind::reply);
      CHECK(back.id == id);
      CHECK(back.node == node);
      CHECK(back.text == text);
      CHECK(back.count == 0);
    }
  }
  // Escapes read back as they were written.
  CHECK(parsed_frame(marked("reply 1 0 a\\nb\\\\c\\rd")).text == "a\nb\\c\rd");
  // An empty text may lose its separating space.
  CHECK(parsed_frame(marked("reply 1 0")).text.empty());
}

TEST_CASE("a final frame reads back as the node and its status text") {
  CHECK(final_frame(1, "{}") == marked("final 1 {}"));
  for (const std::string& text : {std::string(), std::string("{\"a\": \"x\\ny\"}\n"), n0_status()}) {
    const frame back = parsed_frame(final_frame(3, text));
    CHECK(back.kind == frame::Kind::final_status);
    CHECK(back.node == 3);
    CHECK(back.text == text);
  }
  CHECK_FALSE(parse_frame(marked("final")).has_value());
  CHECK_FALSE(parse_frame(marked("final x {}")).has_value());
}

TEST_CASE("an event frame reads back as the node and its line of events.jsonl") {
  CHECK(event_frame(2, "{}") == marked("event 2 {}"));
  const std::string line = R"({"time_ms":1,"time":"t","kind":"exited","actor":"worker.1","pid":7,"detail":"a\nb"})";
  const frame back = parsed_frame(event_frame(1, line));
  CHECK(back.kind == frame::Kind::event);
  CHECK(back.node == 1);
  CHECK(back.text == line);
  CHECK(back.id == 0);
  CHECK_FALSE(parse_frame(marked("event")).has_value());
  CHECK_FALSE(parse_frame(marked("event n1 {}")).has_value());
}

TEST_CASE("a ready frame reads back as the node and its count") {
  CHECK(ready_frame(0, 4) == marked("ready 0 4"));
  for (const auto& [node, count] : std::vector<std::pair<std::size_t, std::size_t>>{
           {0, 0}, {0, 4}, {1, 3}, {17, 1000000}, {std::numeric_limits<std::size_t>::max(), 1}}) {
    const frame back = parsed_frame(ready_frame(node, count));
    CHECK(back.kind == frame::Kind::ready);
    CHECK(back.node == node);
    CHECK(back.count == count);
    CHECK(back.id == 0);
    CHECK(back.text.empty());
    CHECK(back == frame{frame::Kind::ready, 0, node, "", count});
  }
}

TEST_CASE("a line that is not a whole frame is not read as one") {
  const std::vector<std::string> broken = {
      // Not marked.
      "",
      "reply 3 1 ok",
      "ready 0 4",
      " " + marked("reply 3 1 ok"),
      "worker.0: " + marked("reply 3 1 ok"),
      // Unknown kind.
      marked(""),
      marked(" "),
      marked("hello 1 2"),
      marked("Reply 3 1 ok"),
      marked("replies 3 1 ok"),
      marked(" reply 3 1 ok"),
      // Missing or broken fields.
      marked("reply"),
      marked("reply "),
      marked("reply 3"),
      marked("reply 3 "),
      marked("reply x 1 ok"),
      marked("reply 3 n1 ok"),
      marked("reply -3 1 ok"),
      marked("reply 18446744073709551616 1 ok"),
      marked("ready"),
      marked("ready 1"),
      marked("ready 1 "),
      marked("ready x 1"),
      marked("ready 1 -1"),
      // A dangling backslash, an unknown escape.
      marked("reply 3 1 ends with\\"),
      marked("reply 3 1 \\"),
      marked("reply 3 1 tab\\t"),
      marked("reply 3 1 quote\\\""),
      marked("reply 3 1 \\x1e"),
      // Anything after a ready frame's count.
      marked("ready 1 2 3"),
      marked("ready 1 2x"),
  };
  for (const std::string& line : broken) {
    CAPTURE(line);
    CHECK_FALSE(parse_frame(line).has_value());
  }
}

TEST_CASE("nodes_for sends each request to the nodes that run what it names") {
  const Graph graph = parse_ok(demo);
  REQUIRE(graph.cluster.has_value());
  REQUIRE(graph.cluster->nodes.size() == 2);
  std::string error;
  // status: every node, in order; stop: node 0, which spreads it; ping: none.
  CHECK(nodes_for(graph, status(), error) == std::vector<std::size_t>{0, 1});
  CHECK(nodes_for(graph, stop(), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, stop(std::chrono::seconds(1)), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, ping(), error).empty());
  CHECK(error.empty());

  // One instance: only its node.
  CHECK(nodes_for(graph, kill("worker", 1U), error) == std::vector<std::size_t>{1});
  CHECK(nodes_for(graph, restart("worker", 1U), error) == std::vector<std::size_t>{1});
  CHECK(nodes_for(graph, inspect("worker", 1U), error) == std::vector<std::size_t>{1});
  CHECK(nodes_for(graph, kill("worker", 0U), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, restart("worker", 2U), error) == std::vector<std::size_t>{0});
  // Every replica: the distinct nodes of its replicas, sorted.
  CHECK(nodes_for(graph, kill("worker", std::nullopt), error) == std::vector<std::size_t>{0, 1});
  CHECK(nodes_for(graph, restart("worker", std::nullopt), error) == std::vector<std::size_t>{0, 1});
  CHECK(nodes_for(graph, inspect("worker", std::nullopt), error) == std::vector<std::size_t>{0, 1});
  // Pinned to n1, or left to the first node.
  CHECK(nodes_for(graph, kill("sink", std::nullopt), error) == std::vector<std::size_t>{1});
  CHECK(nodes_for(graph, inspect("sink", 0U), error) == std::vector<std::size_t>{1});
  CHECK(nodes_for(graph, restart("source", std::nullopt), error) == std::vector<std::size_t>{0});
  CHECK(error.empty());

  // What is not in the graph goes nowhere, and says why.
  error.clear();
  CHECK(nodes_for(graph, kill("nope", std::nullopt), error).empty());
  CHECK(error == "no actor 'nope'");
  error.clear();
  CHECK(nodes_for(graph, inspect("worker", 3U), error).empty());
  CHECK(error == "no actor 'worker.3'");
  error.clear();
  CHECK(nodes_for(graph, restart("sink", 1U), error).empty());
  CHECK(error == "no actor 'sink.1'");
  error.clear();
  CHECK(nodes_for(graph, kill("nope", 0U), error).empty());
  CHECK(error == "no actor 'nope.0'");
}

TEST_CASE("nodes_for sorts the nodes of an actor whose list is not in cluster order") {
  const Graph graph = parse_ok(R"(version = 1
[cluster]
nodes = [ { name = "n0", host = "a" }, { name = "n1", host = "b" }, { name = "n2", host = "c" } ]
[actors.w]
type = "x.W"
replicas = 4
nodes = ["n2", "n0"]
)");
  std::string error;
  CHECK(nodes_for(graph, status(), error) == std::vector<std::size_t>{0, 1, 2});
  CHECK(nodes_for(graph, kill("w", std::nullopt), error) == std::vector<std::size_t>{0, 2});
  CHECK(nodes_for(graph, kill("w", 0U), error) == std::vector<std::size_t>{2});
  CHECK(nodes_for(graph, kill("w", 3U), error) == std::vector<std::size_t>{0});
  CHECK(error.empty());
}

TEST_CASE("nodes_for on a graph without a cluster sends everything to node 0") {
  const Graph graph = parse_ok("version = 1\n[actors.a]\ntype = \"x.A\"\nreplicas = 2\n");
  REQUIRE_FALSE(graph.cluster.has_value());
  std::string error;
  CHECK(nodes_for(graph, status(), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, stop(), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, kill("a", std::nullopt), error) == std::vector<std::size_t>{0});
  CHECK(nodes_for(graph, inspect("a", 1U), error) == std::vector<std::size_t>{0});
  CHECK(error.empty());
  CHECK(nodes_for(graph, inspect("a", 2U), error).empty());
  CHECK(error == "no actor 'a.2'");
}

TEST_CASE("the status of every node merges into one, each row from the node that runs it") {
  const Graph graph = parse_ok(demo);
  const json merged = merged_json(graph, status(), {{0, n0_status()}, {1, n1_status()}});
  CHECK(merged.at("run") == "demo");
  CHECK(merged.at("graph") == "demo");
  const json& rows = merged.at("actors");
  CHECK(names_of(rows) == std::vector<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "sink.0"});
  CHECK(row_named(rows, "source.0").at("pid") == 10);
  CHECK(row_named(rows, "source.0").at("state") == "running");
  CHECK(row_named(rows, "source.0").at("node") == "n0");
  CHECK(row_named(rows, "worker.0").at("pid") == 11);
  CHECK(row_named(rows, "worker.1").at("pid") == 21);
  CHECK(row_named(rows, "worker.1").at("state") == "running");
  CHECK(row_named(rows, "worker.1").at("node") == "n1");
  CHECK(row_named(rows, "worker.2").at("pid") == 12);
  CHECK(row_named(rows, "sink.0").at("pid") == 22);
  CHECK(row_named(rows, "sink.0").at("state") == "stopped");
  // Rows keep the fields their node wrote.
  CHECK(row_named(rows, "sink.0").at("type") == "x.T");
  for (const json& row : rows) CHECK(row.at("state") != "remote");
  CHECK(merged.at("shared_memory_bytes") == 150);
  CHECK(merged.at("corruptions") == 2);
  CHECK_FALSE(merged.contains("unanswered_nodes"));

  // The order the replies arrive in does not matter.
  CHECK(merged_json(graph, status(), {{1, n1_status()}, {0, n0_status()}}) == merged);
}

TEST_CASE("a node that did not answer a status is named, and its rows say so") {
  const Graph graph = parse_ok(demo);
  {
    const json merged = merged_json(graph, status(), {{0, n0_status()}, {1, std::nullopt}});
    CHECK(merged.at("run") == "demo");
    const json& rows = merged.at("actors");
    CHECK(names_of(rows) == std::vector<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "sink.0"});
    CHECK(row_named(rows, "source.0").at("state") == "running");
    CHECK(row_named(rows, "source.0").at("pid") == 10);
    CHECK(row_named(rows, "worker.1").at("state") == "unanswered");
    CHECK(row_named(rows, "worker.1").at("node") == "n1");
    CHECK(row_named(rows, "sink.0").at("state") == "unanswered");
    CHECK(merged.at("unanswered_nodes") == "n1");
    CHECK(merged.at("shared_memory_bytes") == 100);
    CHECK(merged.at("corruptions") == 0);
  }
  {
    const json merged = merged_json(graph, status(), {{0, std::nullopt}, {1, n1_status()}});
    const json& rows = merged.at("actors");
    CHECK(names_of(rows) == std::vector<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "sink.0"});
    CHECK(row_named(rows, "source.0").at("state") == "unanswered");
    CHECK(row_named(rows, "worker.0").at("state") == "unanswered");
    CHECK(row_named(rows, "worker.2").at("state") == "unanswered");
    CHECK(row_named(rows, "worker.1").at("state") == "running");
    CHECK(row_named(rows, "worker.1").at("pid") == 21);
    CHECK(row_named(rows, "sink.0").at("pid") == 22);
    CHECK(merged.at("unanswered_nodes") == "n0");
    CHECK(merged.at("shared_memory_bytes") == 50);
  }
  {
    // A node that answered with an error is named with it.
    const json merged = merged_json(graph, status(), {{0, n0_status()}, {1, "error: boom"}});
    CHECK(row_named(merged.at("actors"), "sink.0").at("state") == "unanswered");
    CHECK(!merged.contains("unanswered_nodes"));
    CHECK(merged.at("node_errors") == json{{"n1", "error: boom"}});
  }
}

TEST_CASE("a final table names the nodes that sent none as lost and their instances as lost") {
  const Graph graph = parse_ok(demo);
  const json table = json::parse(final_table(graph, "demo", {{0, n0_status()}, {1, std::nullopt}}));
  const json& rows = table.at("actors");
  CHECK(names_of(rows) == std::vector<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "sink.0"});
  CHECK(row_named(rows, "source.0").at("state") == "running");
  CHECK(row_named(rows, "worker.1").at("state") == "lost");
  CHECK(row_named(rows, "worker.1").at("node") == "n1");
  CHECK(row_named(rows, "sink.0").at("state") == "lost");
  CHECK(table.at("lost_nodes") == "n1");
  CHECK_FALSE(table.contains("unanswered_nodes"));
  CHECK(table.at("schema") == 1);
  // Every node's table: nothing lost.
  const json whole = json::parse(final_table(graph, "demo", {{0, n0_status()}, {1, n1_status()}}));
  CHECK_FALSE(whole.contains("lost_nodes"));
  for (const json& row : whole.at("actors")) CHECK(row.at("state") != "lost");
  // No table at all is no final table.
  CHECK_THROWS_AS((void)final_table(graph, "demo", {{0, std::nullopt}, {1, std::nullopt}}), std::runtime_error);
}

TEST_CASE("a node that stopped answering is shown by the last table it gave: its instances keep their counts") {
  const Graph graph = parse_ok(demo);
  json last = json::parse(n1_status());
  for (json& row : last["actors"]) {
    if (row["name"] == "worker.1") row["processed"] = 500;
  }
  // A live status: n1 is silent now, and its instances are its own last
  // view of them, not n0's (a remote row with nothing counted).
  ControlRequest status;
  status.verb = ControlRequest::Verb::status;
  const json live = json::parse(merge_replies(graph, "demo", status, {{0, n0_status()}, {1, last.dump(), true}}));
  CHECK(live.at("unanswered_nodes") == "n1");
  CHECK(row_named(live.at("actors"), "worker.1").at("state") == "unanswered");
  CHECK(row_named(live.at("actors"), "worker.1").at("processed") == 500);
  CHECK(row_named(live.at("actors"), "worker.1").at("pid") == 21);
  CHECK(row_named(live.at("actors"), "sink.0").at("pid") == 22);
  CHECK(row_named(live.at("actors"), "worker.0").at("state") == "running");  // n0's own, from n0
  // The final table: the lost node's instances are lost, with their counts.
  const json table = json::parse(final_table(graph, "demo", {{0, n0_status()}, {1, last.dump(), true}}));
  CHECK(table.at("lost_nodes") == "n1");
  CHECK(row_named(table.at("actors"), "worker.1").at("state") == "lost");
  CHECK(row_named(table.at("actors"), "worker.1").at("processed") == 500);
  CHECK(row_named(table.at("actors"), "worker.1").at("pid") == 0);  // its process is gone with its node
  CHECK(row_named(table.at("actors"), "source.0").at("state") == "running");
  CHECK(row_named(table.at("actors"), "source.0").at("pid") == 10);
  // A stale table answers nothing else: a kill it would have acted on did
  // not happen.
  ControlRequest kill;
  kill.verb = ControlRequest::Verb::kill;
  CHECK(merge_replies(graph, "demo", kill, {{1, std::string("ok"), true}}) != "ok");
}

TEST_CASE("a merged status has the schema and each route's messages summed over the rows of their receivers") {
  const Graph graph = parse_ok(demo);
  // Each node's row of an instance it runs counts what it handled from
  // each sender; a remote row (a mailbox here, for the gateway) is not
  // the receiver's own count, and is left out with its row.
  const auto with_inbound = [](json row, std::vector<std::tuple<std::string, int, double>> inbound) {
    row["inbound"] = json::array();
    for (const auto& [from, messages, rate] : inbound) {
      row["inbound"].push_back({{"from", from}, {"messages", messages}, {"msgs_per_s", rate}, {"queued_bytes", 0}});
    }
    return row;
  };
  const json n0 = {{"run", "demo-n0"},
                   {"graph", "demo"},
                   {"actors",
                    {with_inbound(status_row("source.0", "n0", "running", 10), {{"procactor", 1, 0.0}}),
                     with_inbound(status_row("worker.0", "n0", "running", 11), {{"source.0", 5, 1.5}}),
                     with_inbound(status_row("worker.1", "n1", "remote", 0), {{"source.0", 100, 9.0}}),
                     with_inbound(status_row("worker.2", "n0", "running", 12), {{"source.0", 7, 2.0}}),
                     with_inbound(status_row("sink.0", "n1", "remote", 0), {{"worker.0", 100, 9.0}})}}};
  const json n1 = {{"run", "demo-n1"},
                   {"graph", "demo"},
                   {"actors",
                    {status_row("source.0", "n0", "remote", 0), status_row("worker.0", "n0", "remote", 0),
                     with_inbound(status_row("worker.1", "n1", "running", 21), {{"source.0", 6, 0.5}}),
                     status_row("worker.2", "n0", "remote", 0),
                     with_inbound(status_row("sink.0", "n1", "running", 22),
                                  {{"worker.0", 4, 1.0}, {"worker.1", 3, 0.25}, {"worker.2", 2, 0.0}})}}};
  const json merged = merged_json(graph, status(), {{0, n0.dump()}, {1, n1.dump()}});
  CHECK(merged.at("schema") == 1);
  const json expected = json::array({{{"from", "source"}, {"to", "worker"}, {"policy", "round_robin"},
                                      {"messages", 18}, {"msgs_per_s", 4.0}},
                                     {{"from", "worker"}, {"to", "sink"}, {"policy", "round_robin"},
                                      {"messages", 9}, {"msgs_per_s", 1.25}}});
  CHECK(merged.at("edges") == expected);
  // A route with nothing handled yet is there, at 0; so with no inbound at all.
  const json quiet = merged_json(graph, status(), {{0, n0_status()}, {1, n1_status()}});
  REQUIRE(quiet.at("edges").size() == 2);
  for (const json& edge : quiet.at("edges")) CHECK(edge.at("messages") == 0);
}

TEST_CASE("a status no node answered as JSON is an error line") {
  const Graph graph = parse_ok(demo);
  // Silence everywhere names every node.
  const std::string silent = merge_replies(graph, "demo", status(), {{0, std::nullopt}, {1, std::nullopt}});
  CHECK(silent == "error: node n0, n1 did not answer");
  CHECK(merge_replies(graph, "demo", status(), {{1, std::nullopt}}) == "error: node n1 did not answer");
  // A node's error, when no node sent JSON, is the reply.
  CHECK(merge_replies(graph, "demo", status(), {{0, "error: the run is stopping"}, {1, std::nullopt}}) ==
        "error: the run is stopping");
  CHECK(merge_replies(graph, "demo", status(), {{0, std::nullopt}, {1, "error: boom"}}) == "error: boom");
  CHECK(merge_replies(graph, "demo", status(), {{0, "error: first"}, {1, "error: second"}}) == "error: first");
  // Neither JSON nor an error: quoted in one.
  CHECK(merge_replies(graph, "demo", status(), {{0, "garbage"}, {1, std::nullopt}}) ==
        "error: a node answered 'garbage'");
  CHECK(merge_replies(graph, "demo", status(), {}) == "error: no node answered");
}

TEST_CASE("inspected instances merge, each from the node that runs it") {
  const Graph graph = parse_ok(demo);
  auto instance = [](std::string_view name, std::string_view state, int restarts) {
    return json{{"name", name}, {"state", state}, {"restarts", restarts}, {"exits", json::array()},
                {"dead_letters", json::array()}};
  };
  const std::string n0 = json{{"run", "demo-n0"},
                              {"instances",
                               {instance("worker.0", "running", 1), instance("worker.1", "remote", 0),
                                instance("worker.2", "running", 3)}}}
                             .dump();
  const std::string n1 = json{{"run", "demo-n1"},
                              {"instances",
                               {instance("worker.0", "remote", 0), instance("worker.1", "running", 7),
                                instance("worker.2", "remote", 0)}}}
                             .dump();
  const json merged = merged_json(graph, inspect("worker", std::nullopt), {{0, n0}, {1, n1}});
  CHECK(merged.at("run") == "demo");
  const json& rows = merged.at("instances");
  CHECK(names_of(rows) == std::vector<std::string>{"worker.0", "worker.1", "worker.2"});
  CHECK(row_named(rows, "worker.0").at("restarts") == 1);
  CHECK(row_named(rows, "worker.1").at("restarts") == 7);
  CHECK(row_named(rows, "worker.1").at("state") == "running");
  CHECK(row_named(rows, "worker.2").at("restarts") == 3);
  CHECK(row_named(rows, "worker.2").contains("exits"));

  // One instance, from its one node.
  const std::string sink = json{{"run", "demo-n1"}, {"instances", {instance("sink.0", "running", 2)}}}.dump();
  const json one = merged_json(graph, inspect("sink", 0U), {{1, sink}});
  CHECK(one.at("run") == "demo");
  REQUIRE(one.at("instances").size() == 1);
  CHECK(one.at("instances")[0].at("name") == "sink.0");
  CHECK(one.at("instances")[0].at("restarts") == 2);

  // The owner silent: its instance from the other node, marked.
  const json half = merged_json(graph, inspect("worker", std::nullopt), {{0, n0}, {1, std::nullopt}});
  CHECK(row_named(half.at("instances"), "worker.1").at("state") == "unanswered");
  CHECK(row_named(half.at("instances"), "worker.0").at("restarts") == 1);
  // Every node silent, or an error.
  CHECK(merge_replies(graph, "demo", inspect("sink", 0U), {{1, std::nullopt}}) == "error: node n1 did not answer");
  CHECK(merge_replies(graph, "demo", inspect("sink", 0U), {{1, "error: no actor 'sink.0' in run demo-n1"}}) ==
        "error: no actor 'sink.0' in run demo-n1");
}

TEST_CASE("the last inspect of a run on two nodes has every instance from its node and a lost node's as lost") {
  const Graph graph = parse_ok(demo);
  auto instance = [](std::string_view name, std::string_view state, int exits) {
    json row = {{"name", name},
                {"state", state},
                {"restarts", exits},
                {"exits", json::array()},
                {"dead_letters", json::array()}};
    for (int i = 0; i < exits; ++i) row["exits"].push_back({{"how", "killed"}, {"signal", 9}});
    return row;
  };
  const std::string n0 =
      json{{"run", "demo-n0"},
           {"instances",
            {instance("source.0", "exited", 0), instance("worker.0", "exited", 1), instance("worker.1", "remote", 0),
             instance("worker.2", "exited", 0), instance("sink.0", "remote", 0)}}}
          .dump();
  const std::string n1 =
      json{{"run", "demo-n1"},
           {"instances",
            {instance("source.0", "remote", 0), instance("worker.0", "remote", 0), instance("worker.1", "exited", 2),
             instance("worker.2", "remote", 0), instance("sink.0", "exited", 0)}}}
          .dump();
  const json whole = json::parse(final_table(graph, "demo", {{0, n0}, {1, n1}}, Verb::inspect));
  CHECK(whole.at("run") == "demo");
  CHECK_FALSE(whole.contains("lost_nodes"));
  CHECK(names_of(whole.at("instances")) ==
        std::vector<std::string>{"source.0", "worker.0", "worker.1", "worker.2", "sink.0"});
  CHECK(row_named(whole.at("instances"), "worker.1").at("exits").size() == 2);
  CHECK(row_named(whole.at("instances"), "worker.0").at("exits").size() == 1);
  CHECK(row_named(whole.at("instances"), "sink.0").at("state") == "exited");
  // n1 sent none: its instances are n0's view of them, lost.
  const json half = json::parse(final_table(graph, "demo", {{0, n0}, {1, std::nullopt}}, Verb::inspect));
  CHECK(half.at("lost_nodes") == "n1");
  CHECK(row_named(half.at("instances"), "worker.1").at("state") == "lost");
  CHECK(row_named(half.at("instances"), "worker.0").at("state") == "exited");
  CHECK_THROWS_AS((void)final_table(graph, "demo", {{0, std::nullopt}, {1, std::nullopt}}, Verb::inspect),
                  std::runtime_error);
}

TEST_CASE("an inspected frame reads back as the node and its inspect text") {
  CHECK(inspected_frame(0, "{}") == marked("inspected 0 {}"));
  const std::string text = R"({"run":"demo-n1","instances":[{"name":"a\nb"}]})";
  const frame back = parsed_frame(inspected_frame(1, text));
  CHECK(back.kind == frame::Kind::final_inspect);
  CHECK(back.node == 1);
  CHECK(back.text == text);
  CHECK_FALSE(parse_frame(marked("inspected x {}")).has_value());
}

TEST_CASE("kill, restart and stop are ok when any node acted, else the first error or the silent nodes") {
  const Graph graph = parse_ok(demo);
  for (const ControlRequest& request : {kill("worker", std::nullopt, SIGTERM), restart("worker", std::nullopt)}) {
    CAPTURE(to_request_line(request));
    CHECK(merge_replies(graph, "demo", request, {{0, "ok"}, {1, "ok"}}) == "ok");
    CHECK(merge_replies(graph, "demo", request, {{0, "ok"}, {1, "error: 'worker.1' has no running process"}}) ==
          "ok");
    CHECK(merge_replies(graph, "demo", request, {{0, "error: first"}, {1, "ok"}}) == "ok");
    CHECK(merge_replies(graph, "demo", request, {{0, std::nullopt}, {1, "ok"}}) == "ok");
    CHECK(merge_replies(graph, "demo", request, {{0, "error: first"}, {1, "error: second"}}) == "error: first");
    CHECK(merge_replies(graph, "demo", request, {{0, std::nullopt}, {1, "error: second"}}) == "error: second");
    CHECK(merge_replies(graph, "demo", request, {{0, std::nullopt}, {1, std::nullopt}}) ==
          "error: node n0, n1 did not answer");
    CHECK(merge_replies(graph, "demo", request, {{1, std::nullopt}}) == "error: node n1 did not answer");
  }
  CHECK(merge_replies(graph, "demo", stop(), {{0, "ok"}}) == "ok");
  CHECK(merge_replies(graph, "demo", stop(), {{0, "error: already stopping"}}) == "error: already stopping");
  CHECK(merge_replies(graph, "demo", stop(), {{0, std::nullopt}}) == "error: node n0 did not answer");
  CHECK(merge_replies(graph, "demo", kill("sink", std::nullopt), {}) == "error: no node answered");
  CHECK(merge_replies(graph, "demo", ping(), {}) == "pong");
}
