// How `procactor launch` of a multi-node run operates it from the host it
// was started on (docs/design.md §7a).
//
// The launching process serves the run's control socket as on one host.
// It reaches the nodes through mpirun's standard streams, which mpirun
// carries to and from every host (over ssh or a batch system alike):
//
//   launch --stdin--> node 0 --MPI--> node K      a request for node K
//   launch <-stdout-- node 0 <-MPI--- node K      its reply, and every line
//                                                 node K prints
//
// mpirun passes its standard input to rank 0 only, and the lines of
// different ranks can interleave mid-line on its standard output; so node
// 0 is the only node that writes to it: the other nodes hand their lines
// (actor output, their own events, replies) to node 0 over the link.
//
//   request line (stdin):   ID NODE REQUEST        REQUEST as control_protocol.hpp
//   reply frame (stdout):   \x1e reply ID NODE TEXT
//   ready frame (stdout):   \x1e ready NODE COUNT  the node's COUNT instances have all run
//   final frame (stdout):   \x1e final NODE TEXT   the node's last status (TEXT: its JSON), as
//                                                 every instance there has finished
//   inspected frame (stdout): \x1e inspected NODE TEXT  the node's last inspect of its instances (TEXT:
//                                                 its JSON), sent just before its final frame
//   event frame (stdout):   \x1e event NODE TEXT   an event of one of the node's actors (TEXT: its
//                                                 line of events.jsonl), for the run's own log
//
// TEXT has '\\' and newlines escaped, so a frame is one line. The frame
// mark (ASCII RS) cannot begin a printed line: those begin with a name.
//
// The launching process sends each request to the nodes that run what it
// names (every node for `status`, node 0 for `stop`, which it spreads as
// an ordered stop), and merges their replies into the reply a client of a
// one-host run gets. Everything here is pure: unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_protocol.hpp"
#include "graph.hpp"

namespace procactor::launcher {

// Messages handled along each pair of actors (indices into graph.actors,
// sender first), and their rate.
using edge_totals = std::map<std::pair<std::size_t, std::size_t>, std::pair<std::uint64_t, double>>;

// The status object's "edges": every route of the graph, in its order,
// with its policy and its totals (0 before its first message).
[[nodiscard]] nlohmann::json edge_rows(const Graph& graph, const edge_totals& totals);

}  // namespace procactor::launcher

namespace procactor::launcher::relay {

inline constexpr char frame_mark = '\x1e';

struct addressed_request {
  std::uint64_t id = 0;
  std::size_t node = 0;  // index into graph.cluster->nodes
  ControlRequest request;
};

[[nodiscard]] std::string request_line(std::uint64_t id, std::size_t node, const ControlRequest& request);
// Either the request, or why not; never throws.
[[nodiscard]] std::variant<addressed_request, std::string> parse_request_line(std::string_view line) noexcept;
// The id of a request line that could not be parsed whole, so that its
// sender still gets an answer.
[[nodiscard]] std::optional<std::uint64_t> request_id(std::string_view line) noexcept;

struct frame {
  enum class Kind : std::uint8_t { reply, ready, final_status, event, final_inspect };
  Kind kind = Kind::reply;
  std::uint64_t id = 0;    // reply
  std::size_t node = 0;
  std::string text;        // reply, final_status, event, final_inspect: unescaped
  std::size_t count = 0;   // ready
  friend bool operator==(const frame&, const frame&) = default;
};

[[nodiscard]] std::string reply_frame(std::uint64_t id, std::size_t node, std::string_view text);
[[nodiscard]] std::string ready_frame(std::size_t node, std::size_t count);
[[nodiscard]] std::string final_frame(std::size_t node, std::string_view status_json);
[[nodiscard]] std::string event_frame(std::size_t node, std::string_view event_json);
[[nodiscard]] std::string inspected_frame(std::size_t node, std::string_view inspect_json);
// A line that begins with frame_mark: the frame, or nullopt when it is not
// one (a broken frame is dropped, never printed).
[[nodiscard]] std::optional<frame> parse_frame(std::string_view line) noexcept;

// The nodes a request goes to, in order; empty when it names no actor of
// the graph (`error` says "no actor 'NAME'"), or asks nothing of the nodes
// (ping).
[[nodiscard]] std::vector<std::size_t> nodes_for(const Graph& graph, const ControlRequest& request,
                                                 std::string& error);

// One node's reply; nullopt when it did not answer in time. A stale one
// is not an answer: it is the last status the node gave, standing in for
// one it did not give now (its rows keep their counts, in the state of a
// silent node's).
struct node_reply {
  std::size_t node = 0;
  std::optional<std::string> text;
  bool stale = false;
};

// The reply of the whole run, as a one-host run gives it (a status with
// its schema, and its edges summed from the rows of the nodes that run
// their receivers): status rows and
// inspected instances each from the node that runs them (in the graph's
// order, with their NODE), and for restart and kill "ok" when a node acted
// (else the first node's error). In a status, the rows of a node that did
// not answer, or answered with an error, are another node's view of them
// in state "unanswered", and the node is named: "unanswered_nodes" ("n1,
// n2"), "node_errors" ({"n1": "error: ..."}); a silent node's own rows
// come from its stale reply where there is one.
[[nodiscard]] std::string merge_replies(const Graph& graph, const std::string& run_name,
                                        const ControlRequest& request, const std::vector<node_reply>& replies);

// The last table of a multi-node run, from the final statuses its nodes
// sent as they ended (nullopt: none came): merged as a status, a node that
// sent none (one that died, or was killed with the job) named in
// "lost_nodes" and its instances "lost", as its stale reply (the last
// status it gave) or else another node last saw them.
// Throws std::runtime_error when no node's table is whole. With `verb`
// inspect, the same of the nodes' last inspect of their instances (the
// inspected frames): what `inspect` of the ended run shows.
[[nodiscard]] std::string final_table(const Graph& graph, const std::string& run_name,
                                      const std::vector<node_reply>& finals,
                                      ControlRequest::Verb verb = ControlRequest::Verb::status);

}  // namespace procactor::launcher::relay
