// A machine short of what a run needs outside itself: a full /dev/shm, a
// full state directory. Each case runs its commands under `unshare -m`, in
// a private mount namespace where a small tmpfs covers /dev/shm or the
// sandbox's state directory; where that is not permitted (no
// CAP_SYS_ADMIN, a container that forbids it) the case says so and passes
// without checking anything.
#include <doctest/doctest.h>
#include <unistd.h>

#include "harness.hpp"

namespace cli {
namespace {

// `sh -c SCRIPT` in a private mount namespace, with $PROCACTOR naming the
// binary under test; nullopt (and a message) when unshare is refused.
std::optional<result> in_namespace(sandbox& box, const std::string& script) {
  const result probe = box.program({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/true"}, 60s);
  if (probe.exit_code != 0) {
    MESSAGE("SKIPPED: `unshare -m` is not permitted here (exit code " << probe.exit_code << "): " << probe.err);
    return std::nullopt;
  }
  return box.program({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                      "PROCACTOR='" + procactor_binary().string() + "'; " + script},
                     180s);
}

}  // namespace

// An open-file limit too low for the graph's instances (four descriptors
// each, and 256) is this host's, not the file's: validate accepts the file,
// while launch --dry-run, like launch, refuses it with exit code 2, naming
// the limit, before anything starts.
TEST_CASE("a host whose open-file limit is too low for the graph is refused by launch and its dry run alike" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("finished_first.toml");  // 101 instances: 660 descriptors
  const std::string need =
      "graph finished-first has 101 actor instances, which need 660 open files in the "
      "supervisor; the hard limit is 300";
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"validate"}, {"launch", "--dry-run"}, {"launch"}}) {
    std::string line = "ulimit -n 300 && exec \"$0\"";
    for (const auto& word : command) line += " " + word;
    const result r =
        box.program({"/bin/sh", "-c", line + " \"$1\"", procactor_binary().string(), graph.string()}, 120s);
    CAPTURE(command.back());
    CAPTURE(r.out);
    CAPTURE(r.err);
    if (command.front() == "validate") {
      CHECK(r.exit_code == 0);
      continue;
    }
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(need) != std::string::npos);
  }
  CHECK(!fs::exists(box.runs_root() / "finished-first"));
  CHECK(descendants().empty());
}

TEST_CASE("a run whose /dev/shm is too small fails with exit code 1 saying that /dev/shm is full" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("crashy_small.toml");
  // Room for the arena's header (about 460 KiB), not for every actor's mailbox:
  // the start fails as one finds /dev/shm full.
  const auto run = in_namespace(box,
                                "mount -t tmpfs -o size=480k tmpfs /dev/shm || exit 99; \"$PROCACTOR\" launch "
                                "--no-color '" +
                                    graph.string() + "'; echo \"launch exit code $?\"");
  if (!run) return;
  const std::string all = run->out + run->err;
  REQUIRE_MESSAGE(run->out.find("launch exit code") != std::string::npos, all);
  CHECK_MESSAGE(run->out.find("launch exit code 1") != std::string::npos, all);
  CHECK_MESSAGE(all.find("/dev/shm is full") != std::string::npos, all);
  CHECK_MESSAGE(all.find(" free") != std::string::npos, all);
  // The arena's own limit, 16 GiB, is far away: not named.
  CHECK_MESSAGE(all.find("Options::arena_size") == std::string::npos, all);
}

TEST_CASE("a full state directory is said once on stderr and fails the run and ls calls no run died" *
          doctest::timeout(290)) {
  sandbox box;
  const fs::path graph = box.copy_graph("primes_small.toml");
  const std::string state = box.runs_root().string();
  // A run with room, then the state directory filled up (a file takes its
  // every block) and a second run with no room for its logs and records.
  const auto run = in_namespace(
      box, "mkdir -p '" + state + "' && mount -t tmpfs -o size=1m,mode=700,uid=" + std::to_string(::getuid()) +
               " tmpfs '" + state + "' || exit 99; \"$PROCACTOR\" launch --no-color '" + graph.string() +
               "'; echo \"launch exit code $?\"; dd if=/dev/zero of='" + state +
               "/filler' bs=4k 2>/dev/null; \"$PROCACTOR\" launch --no-color '" + graph.string() +
               "'; echo \"second launch exit code $?\"; \"$PROCACTOR\" ls; echo \"ls exit code $?\"");
  if (!run) return;
  const std::string all = run->out + run->err;
  REQUIRE_MESSAGE(run->out.find("ls exit code") != std::string::npos, all);
  // Room for the first run: all is well.
  CHECK_MESSAGE(run->out.find("launch exit code 0") != std::string::npos, all);
  // None for the second: said on stderr, naming the state directory, and on
  // the last line; the exit code says it.
  CHECK_MESSAGE(run->out.find("second launch exit code 1") != std::string::npos, all);
  CHECK_MESSAGE(run->err.find("the state directory " + state + " is full") != std::string::npos, all);
  CHECK_MESSAGE(run->out.find("are incomplete") != std::string::npos, all);
  // `ls` knows how each ended: none "died".
  CHECK_MESSAGE(run->out.find("died") == std::string::npos, all);
  CHECK_MESSAGE(run->out.find("ls exit code 0") != std::string::npos, all);
}

}  // namespace cli
