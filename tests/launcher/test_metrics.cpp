// The dashboard's pure parts: /metrics from a status object, and the
// [ADDR:]PORT of --http. The server itself is tested in a browser
// (tests/dashboard).
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "units.hpp"

using namespace procactor::launcher;
using nlohmann::json;

namespace {

json two_instances() {
  return json::parse(R"({
    "schema": 1, "run": "prod \"blue\"", "graph": "g",
    "actors": [
      {"name": "source.0", "state": "running", "processed": 0, "msgs_per_s": 0.0, "queued_bytes": 0,
       "mailbox_capacity": 65536, "restarts": 0, "dead_letters": 0, "cpu_seconds": 0.5, "rss_bytes": 4096},
      {"name": "worker.12", "state": "restarting", "processed": 42, "msgs_per_s": 12.5, "queued_bytes": 640,
       "fullest_lane_bytes": 512,
       "mailbox_capacity": 65536, "restarts": 3, "dead_letters": 1, "cpu_seconds": 1.25, "rss_bytes": 8192}
    ],
    "edges": [{"from": "source", "to": "worker", "policy": "round_robin", "messages": 42, "msgs_per_s": 12.5}],
    "shared_memory_bytes": 1048576, "corruptions": 0})");
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST_CASE("metrics name each instance by actor and replica, with the run's name escaped") {
  const std::string text = prometheus_text(two_instances());
  CHECK(has_line(text, R"(procactor_messages_processed_total{run="prod \"blue\"",actor="worker",replica="12"} 42)"));
  CHECK(has_line(text, R"(procactor_mailbox_queued_bytes{run="prod \"blue\"",actor="worker",replica="12"} 640)"));
  CHECK(has_line(text,
                 R"(procactor_mailbox_fullest_lane_bytes{run="prod \"blue\"",actor="worker",replica="12"} 512)"));
  CHECK(has_line(text, R"(procactor_cpu_seconds_total{run="prod \"blue\"",actor="source",replica="0"} 0.5)"));
  CHECK(has_line(text, R"(procactor_up{run="prod \"blue\""} 1)"));
}

TEST_CASE("an instance of a run on several nodes carries its node; a value is written as short as it reads back") {
  json status = two_instances();
  status["actors"][1]["node"] = "n1";
  status["actors"][1]["cpu_seconds"] = 0.03;
  const std::string text = prometheus_text(status);
  CHECK(has_line(
      text, R"(procactor_messages_processed_total{run="prod \"blue\"",actor="worker",replica="12",node="n1"} 42)"));
  CHECK(
      has_line(text, R"(procactor_cpu_seconds_total{run="prod \"blue\"",actor="worker",replica="12",node="n1"} 0.03)"));
  CHECK(has_line(
      text,
      R"(procactor_actor_state{run="prod \"blue\"",actor="worker",replica="12",node="n1",state="restarting"} 1)"));
  // One-host rows have no node label.
  CHECK(has_line(text, R"(procactor_cpu_seconds_total{run="prod \"blue\"",actor="source",replica="0"} 0.5)"));
}

TEST_CASE("every metric family has its HELP and TYPE lines once, counters end in _total") {
  const std::string text = prometheus_text(two_instances());
  for (const std::string family : {"procactor_messages_processed_total", "procactor_restarts_total",
                                   "procactor_dead_letters_total", "procactor_edge_messages_total"}) {
    CHECK(has_line(text, "# TYPE " + family + " counter"));
    CHECK(text.find("# HELP " + family + " ") != std::string::npos);
  }
  CHECK(has_line(text, "# TYPE procactor_messages_per_second gauge"));
  std::size_t types = 0;
  for (std::size_t at = 0; (at = text.find("# TYPE procactor_restarts_total", at)) != std::string::npos; ++at) ++types;
  CHECK(types == 1);
}

TEST_CASE("the state is a state set: 1 for the instance's state, 0 for every other") {
  const std::string text = prometheus_text(two_instances());
  const std::string labels = R"(run="prod \"blue\"",actor="worker",replica="12",state=)";
  CHECK(has_line(text, "procactor_actor_state{" + labels + R"("restarting"} 1)"));
  CHECK(has_line(text, "procactor_actor_state{" + labels + R"("running"} 0)"));
  CHECK(has_line(text, "procactor_actor_state{" + labels + R"("failed"} 0)"));
}

TEST_CASE("edges carry their route's ends and a field the status lacks is left out") {
  json status = two_instances();
  status["actors"][0].erase("rss_bytes");
  status["actors"][1].erase("rss_bytes");
  const std::string text = prometheus_text(status);
  CHECK(has_line(text, R"(procactor_edge_messages_total{run="prod \"blue\"",from="source",to="worker"} 42)"));
  CHECK(text.find("procactor_resident_memory_bytes") == std::string::npos);
}

TEST_CASE("label values escape backslash, quote and newline") {
  CHECK(prometheus_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("--http takes PORT, ADDR:PORT and [IPv6]:PORT") {
  CHECK(*parse_listen_address("8080").value == ListenAddress{"127.0.0.1", 8080});
  CHECK(*parse_listen_address("0.0.0.0:9000").value == ListenAddress{"0.0.0.0", 9000});
  CHECK(*parse_listen_address("[::1]:0").value == ListenAddress{"::1", 0});
  CHECK(*parse_listen_address("localhost:80").value == ListenAddress{"localhost", 80});
}

TEST_CASE("a bad --http says what is wrong") {
  CHECK(parse_listen_address("http").error == "'http' is not a port (0 to 65535)");
  CHECK(parse_listen_address("70000").error == "'70000' is not a port (0 to 65535)");
  CHECK(parse_listen_address(":80").error ==
        "':80' has no address before the ':' (write PORT, ADDR:PORT or [IPv6]:PORT)");
  CHECK(parse_listen_address("127.0.0.1:").error == "'' is not a port (0 to 65535)");
  // A numeric address that is none: a usage error, not a failure to bind.
  CHECK(parse_listen_address("256.1.1.1:80").error == "'256.1.1.1' is not an IPv4 address");
  CHECK(parse_listen_address("127.0.0.1:80:80").error == "'127.0.0.1:80' is not an IPv6 address");
  CHECK(parse_listen_address("[::g]:80").error == "'::g' is not an IPv6 address");
}
