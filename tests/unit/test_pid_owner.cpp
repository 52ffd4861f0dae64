// What a /proc/PID/stat line says of a pid read from shared memory
// (runtime/process.hpp, owner_in_stat): the check behind ActorRef::pid()
// and kill(), which must neither signal a process outside the run nor
// count as corruption an incarnation that the supervisor is reaping.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "process.hpp"

using procactor::detail::owner_in_stat;
using procactor::detail::pid_owner;

TEST_CASE("a stat line names a running child of the supervisor as an actor, whatever its comm holds") {
  CHECK(owner_in_stat("4242 (worker.3) S 100 4242 4242 0 -1 4194560 ...", 100) == pid_owner::actor);
  CHECK(owner_in_stat("4242 (a) b) R 100 4242 ...", 100) == pid_owner::actor);  // ')' and spaces in comm
  CHECK(owner_in_stat("4242 (x) Z 100 4242 ...", 100) == pid_owner::actor);     // its zombie, not reaped yet
  CHECK(owner_in_stat("4242 (worker.3) S 101 4242 ...", 100) == pid_owner::foreign);
  CHECK(owner_in_stat("4242 (init) S 0 1 ...", 100) == pid_owner::foreign);
}

TEST_CASE("an exit under way is not a foreign process: the reaper's moment shows state X and parent 0") {
  // What a restart storm read while the supervisor reaped the last
  // incarnation; before, each was logged as a forged pid and counted in
  // corruptions().
  CHECK(owner_in_stat("4242 (worker.3) X 0 4242 4242 0 -1 ...", 100) == pid_owner::exiting);
  CHECK(owner_in_stat("4242 (worker.3) X 100 4242 ...", 100) == pid_owner::exiting);
  CHECK(owner_in_stat("4242 (worker.3) Z 0 4242 ...", 100) == pid_owner::exiting);
  CHECK(owner_in_stat("4242 (other) Z 7 4242 ...", 100) == pid_owner::foreign);  // another's zombie
}

TEST_CASE("a stat line that does not parse is foreign") {
  CHECK(owner_in_stat("", 100) == pid_owner::foreign);
  CHECK(owner_in_stat("4242 (no closing paren S 100", 100) == pid_owner::foreign);
  CHECK(owner_in_stat("4242 (x)", 100) == pid_owner::foreign);
}

TEST_CASE("this process's own stat line names its parent") {
  char text[512] = {};
  if (std::FILE* f = std::fopen("/proc/self/stat", "re")) {
    (void)!std::fread(text, 1, sizeof text - 1, f);
    std::fclose(f);
  }
  REQUIRE(text[0] != '\0');
  CHECK(owner_in_stat(text, static_cast<int>(::getppid())) == pid_owner::actor);
  CHECK(owner_in_stat(text, static_cast<int>(::getppid()) + 1) == pid_owner::foreign);
}
