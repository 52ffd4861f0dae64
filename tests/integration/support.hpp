// Helpers shared by the integration tests.
//
// A test binary holds ONE procactor::Runtime (spawn re-executes the binary,
// and the Runtime constructor is where a child turns into its actor), so
// every test case of a binary shares it: actors get unique names, and each
// test kills what it spawned when it ends, pass or fail (actor_scope).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <procactor/procactor.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace itest {

using namespace std::chrono_literals;

// The Runtime of this test binary (made by run() below).
procactor::Runtime& runtime();

// "base-<n>": actor names are unique within a run and tests share the run.
std::string unique_name(std::string_view base);

// Constructs the Runtime first (in a child process this never returns),
// runs doctest, destroys the Runtime, and then fails the run if a child
// process or a /dev/shm segment of the run is left. A watchdog kills every
// child and removes the run's segments if the run takes longer than
// `budget`, so that a hung test cannot leave actors behind for ctest to
// orphan.
int run(int argc, char** argv, procactor::Options options, std::chrono::seconds budget);

// Every actor a test spawns through this scope is stopped when the scope
// ends, pass or fail: closed and given 3 s to drain, then killed (no restart).
class actor_scope {
 public:
  actor_scope() = default;
  actor_scope(const actor_scope&) = delete;
  actor_scope& operator=(const actor_scope&) = delete;
  ~actor_scope();

  // An actor spawned without a group joins the scope's own one_for_one
  // group with no intensity limit: crashes in one test never count against
  // another's (the root group's limit would, as all tests share the run).
  // Returns what Runtime::spawn<A> does: a TypedRef<A> for an Actor<A, ...>.
  template <class A>
  auto spawn(std::string_view base, procactor::SpawnOptions options = {}) {
    if (options.group.is_root()) options.group = group();
    auto ref = runtime().spawn<A>(unique_name(base), std::move(options));
    refs_.push_back(ref);
    return ref;
  }
  // For actors made some other way (a pool's workers are not: ~Pool stops them).
  void adopt(procactor::ActorRef ref) { refs_.push_back(ref); }
  procactor::Group group();

 private:
  std::vector<procactor::ActorRef> refs_;
  std::optional<procactor::Group> group_;
};

// Polls `condition` until it holds or `limit` passes. A behaviour check with
// a generous limit, not a timing assertion: it only bounds a hung test.
template <class Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

bool is_terminal(procactor::ActorState state);

// A fresh directory under $TMPDIR (or /tmp), removed with its files.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// One write(2) with O_APPEND: a line written by a process that is SIGKILLed
// a moment later is either wholly in the file or not at all.
void append_line(const std::string& path, std::string_view line);
std::vector<std::string> read_lines(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);

// The dead letters of one actor, by name.
std::vector<procactor::DeadLetter> dead_letters_of(const std::string& actor);

}  // namespace itest
