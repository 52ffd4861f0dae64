#include <csignal>

#include <doctest/doctest.h>

#include "cli_args.hpp"

using namespace procactor::launcher;

TEST_CASE("an actor target names an actor and optionally one replica") {
  CHECK(*parse_actor_target("worker") == ActorTarget{"worker", std::nullopt});
  CHECK(*parse_actor_target("worker.3") == ActorTarget{"worker", 3U});
  CHECK(to_string(*parse_actor_target("worker.3")) == "worker.3");
  CHECK(to_string(*parse_actor_target("sink")) == "sink");
}

TEST_CASE("malformed actor targets are refused") {
  CHECK_FALSE(parse_actor_target(""));
  CHECK_FALSE(parse_actor_target("worker."));
  CHECK_FALSE(parse_actor_target("worker.x"));
  CHECK_FALSE(parse_actor_target("worker.1.2"));
  CHECK_FALSE(parse_actor_target(".1"));
  CHECK_FALSE(parse_actor_target("9lives"));
}

TEST_CASE("signals are accepted by name, with or without SIG, in any case, or by number") {
  CHECK(*parse_signal("TERM") == SIGTERM);
  CHECK(*parse_signal("SIGKILL") == SIGKILL);
  CHECK(*parse_signal("usr1") == SIGUSR1);
  CHECK(*parse_signal("9") == 9);
  CHECK_FALSE(parse_signal("NOPE"));
  CHECK_FALSE(parse_signal("0"));
  CHECK_FALSE(parse_signal("65"));
  CHECK_FALSE(parse_signal(""));
}
