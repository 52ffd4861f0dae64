#include <algorithm>
#include <csignal>
#include <random>

#include <doctest/doctest.h>

#include "control_protocol.hpp"

using namespace procactor::launcher;
using Verb = ControlRequest::Verb;

namespace {

ControlRequest parsed(std::string_view line) {
  auto result = parse_control_request(line);
  const auto* error = std::get_if<std::string>(&result);
  INFO(std::string(line));
  REQUIRE_MESSAGE(error == nullptr, (error != nullptr ? *error : std::string()));
  return std::get<ControlRequest>(result);
}

std::string refused(std::string_view line) {
  auto result = parse_control_request(line);
  INFO(std::string(line));
  REQUIRE(std::holds_alternative<std::string>(result));
  return std::get<std::string>(result);
}

}  // namespace

TEST_CASE("every request the CLI sends is read back as it was meant") {
  CHECK(parsed("ping").verb == Verb::ping);
  CHECK(parsed("status").verb == Verb::status);
  CHECK(parsed("status").client.empty());
  CHECK(parsed("status watch-4242").client == "watch-4242");
  CHECK(parsed("stop") == ControlRequest{Verb::stop, std::nullopt, {}, 0});
  CHECK(parsed("stop 2500000000") == ControlRequest{Verb::stop, std::chrono::milliseconds(2500), {}, 0});
  CHECK(parsed("stop 0").stop_timeout == std::chrono::nanoseconds(0));
  CHECK(parsed("restart worker") == ControlRequest{Verb::restart, std::nullopt, {"worker", std::nullopt}, 0});
  CHECK(parsed("restart worker.3").target == ActorTarget{"worker", 3U});
  // A restart is graceful unless it says force (SIGKILL) or drain (the queue first).
  CHECK_FALSE(parsed("restart worker.3").force);
  CHECK_FALSE(parsed("restart worker.3").drain);
  CHECK(parsed("restart worker.3 force").force);
  CHECK_FALSE(parsed("restart worker.3 force").drain);
  CHECK(parsed("restart worker drain").drain);
  CHECK(parsed("inspect worker.1").verb == Verb::inspect);
  CHECK(parsed("inspect worker.1").target == ActorTarget{"worker", 1U});
  CHECK(parsed("inspect worker").target == ActorTarget{"worker", std::nullopt});
  CHECK(parsed("kill worker.0") == ControlRequest{Verb::kill, std::nullopt, {"worker", 0U}, SIGKILL});
  CHECK(parsed("kill worker.0 TERM").signal == SIGTERM);
  CHECK(parsed("kill worker.0 sigusr1").signal == SIGUSR1);
  CHECK(parsed("kill worker 15").signal == 15);
  CHECK(parsed("scale worker 6").verb == Verb::scale);
  CHECK(parsed("scale worker 6").target == ActorTarget{"worker", std::nullopt});
  CHECK(parsed("scale worker 6").replicas == 6);
  CHECK(parsed("scale worker 1023").replicas == 1023);
  // Spacing and a CRLF line end are not worth refusing.
  CHECK(parsed("  kill\tworker.0   TERM \r").signal == SIGTERM);

  for (const auto& request : {ControlRequest{Verb::ping, std::nullopt, {}, 0},
                              ControlRequest{Verb::stop, std::chrono::seconds(3), {}, 0},
                              ControlRequest{Verb::restart, std::nullopt, {"sink", std::nullopt}, 0},
                              ControlRequest{Verb::kill, std::nullopt, {"worker", 7U}, SIGTERM},
                              ControlRequest{Verb::restart, std::nullopt, {"sink", 0U}, 0, true, false},
                              ControlRequest{Verb::restart, std::nullopt, {"sink", std::nullopt}, 0, false, true},
                              ControlRequest{Verb::inspect, std::nullopt, {"worker", 2U}, 0},
                              ControlRequest{Verb::status, std::nullopt, {}, 0, false, false, "dashboard_7"},
                              ControlRequest{Verb::scale, std::nullopt, {"worker", std::nullopt}, 0, false, false, "", 3}}) {
    CHECK(parsed(to_request_line(request)) == request);
  }
}

TEST_CASE("a malformed request is refused with a reason that names the problem") {
  CHECK(refused("") == "empty request (expected ping, status, stop, restart, kill, inspect or scale)");
  CHECK(refused("   ") == "empty request (expected ping, status, stop, restart, kill, inspect or scale)");
  CHECK(refused("frobnicate now") == "unknown request 'frobnicate' (expected ping, status, stop, restart, kill, inspect or scale)");
  CHECK(refused("STATUS").starts_with("unknown request 'STATUS'"));
  CHECK(refused("status --json") ==
        "status client '--json' is not 1 to 32 letters, digits, '-' or '_', starting with a letter or digit");
  CHECK(refused("status a b") == "status takes at most a client name; unexpected 'b'");
  CHECK(refused("status " + std::string(33, 'x')) ==
        "status client '" + std::string(33, 'x') +
            "' is not 1 to 32 letters, digits, '-' or '_', starting with a letter or digit");
  CHECK(refused("ping now") == "ping takes no arguments; unexpected 'now'");
  CHECK(refused("ping pong") == "ping takes no arguments; unexpected 'pong'");
  CHECK(refused("stop 5s") == "stop timeout '5s' is not a whole number of nanoseconds");
  CHECK(refused("stop -1") == "stop timeout '-1' is not a whole number of nanoseconds");
  CHECK(refused("stop 99999999999999999999") ==
        "stop timeout '99999999999999999999' is not a whole number of nanoseconds");
  CHECK(refused("stop 1 2") == "stop takes at most a timeout in nanoseconds; unexpected '2'");
  CHECK(refused("restart") == "restart needs an actor: ACTOR or ACTOR.N");
  CHECK(refused("restart a b") == "unknown restart option 'b' (expected force or drain)");
  CHECK(refused("restart a force drain") == "restart takes an actor, and force or drain; unexpected 'drain'");
  CHECK(refused("restart a --force") == "unknown restart option '--force' (expected force or drain)");
  CHECK(refused("inspect") == "inspect needs an actor: ACTOR or ACTOR.N");
  CHECK(refused("inspect a b") == "inspect takes one actor; unexpected 'b'");
  CHECK(refused("inspect a.") == "'a.' is not ACTOR or ACTOR.N");
  CHECK(refused("restart worker.") == "'worker.' is not ACTOR or ACTOR.N");
  CHECK(refused("restart 9lives") == "'9lives' is not ACTOR or ACTOR.N");
  CHECK(refused("kill") == "kill needs an actor: ACTOR or ACTOR.N");
  CHECK(refused("scale") == "scale needs an actor and a number of replicas: scale ACTOR N");
  CHECK(refused("scale worker") == "scale needs an actor and a number of replicas: scale ACTOR N");
  CHECK(refused("scale worker 2 now") == "scale takes an actor and a number of replicas; unexpected 'now'");
  CHECK(refused("scale worker.1 2") == "scale takes an actor, not one replica: 'worker.1'");
  CHECK(refused("scale worker 0") == "number of replicas '0' is not a whole number from 1 to 1023");
  CHECK(refused("scale worker 1024") == "number of replicas '1024' is not a whole number from 1 to 1023");
  CHECK(refused("scale worker -1") == "number of replicas '-1' is not a whole number from 1 to 1023");
  CHECK(refused("scale worker 2x") == "number of replicas '2x' is not a whole number from 1 to 1023");
  CHECK(refused("scale 9w 2") == "'9w' is not an actor name");
  CHECK(refused("kill worker 99999") == "unknown signal '99999' (a name such as TERM, or a number from 1 to 64)");
  CHECK(refused("kill worker 0").starts_with("unknown signal '0'"));
  CHECK(refused("kill worker -9").starts_with("unknown signal '-9'"));
  CHECK(refused("kill worker TERM now") == "kill takes an actor and a signal; unexpected 'now'");
  CHECK(refused(std::string_view("stat\0us", 7)) ==
        "request holds byte 0x00 at offset 4; requests are printable ASCII");
  CHECK(refused("status\x1b[2J") == "request holds byte 0x1b at offset 6; requests are printable ASCII");
  CHECK(refused("kill w\xc3\xa9") == "request holds byte 0xc3 at offset 6; requests are printable ASCII");
  CHECK(refused(std::string(max_request_bytes + 1, 'a')) == "request longer than 1024 bytes");
  // A long word is quoted short: an error never echoes a request back whole.
  CHECK(refused("restart " + std::string(500, 'w')).size() < 100);
}

TEST_CASE("any bytes at all get a request or a printable reason, never an exception") {
  std::mt19937 random(20261202);
  const std::string alphabet = "pingstatusoprekl .0123456789\t\r\n-wTERMKIL\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    const std::size_t length = random() % (i % 100 == 0 ? 3000 : 40);
    for (std::size_t j = 0; j < length; ++j) {
      line += (random() % 4 == 0) ? static_cast<char>(random() % 256) : alphabet[random() % alphabet.size()];
    }
    const auto result = parse_control_request(line);
    if (const auto* error = std::get_if<std::string>(&result)) {
      const bool printable =
          !error->empty() && std::all_of(error->begin(), error->end(), [](char c) { return c >= 0x20 && c < 0x7f; });
      if (!printable) FAIL("unprintable reason for a request of " << line.size() << " bytes: " << *error);
    }
  }
}
