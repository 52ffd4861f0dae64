#define DOCTEST_CONFIG_IMPLEMENT
#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "probe.hpp"

namespace itest {
namespace {

procactor::Runtime* g_runtime = nullptr;
std::atomic<unsigned> g_names{0};

// Kills what the run left and exits: the path of a run past its budget.
// Children first (each actor leads its own process group, so the group
// kill also takes whatever an actor started), then the segments.
[[noreturn]] void emergency_exit(std::chrono::seconds budget) {
  std::fprintf(stderr, "itest watchdog: the run took longer than %lld s; killing its processes\n",
               static_cast<long long>(budget.count()));
  for (const auto& child : probe::children_of(::getpid())) {
    ::kill(-child.pid, SIGKILL);
    ::kill(child.pid, SIGKILL);
  }
  for (const auto& name : probe::run_segments(::getpid())) probe::remove_segment(name);
  std::_Exit(124);
}

class watchdog {
 public:
  explicit watchdog(std::chrono::seconds budget)
      : thread_([this, budget] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, budget, [this] { return done_; })) emergency_exit(budget);
        }) {}
  ~watchdog() {
    {
      std::lock_guard guard(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

// After the Runtime is gone nothing of the run may remain. The binary is a
// child subreaper (the supervisor sets that), so any process the run
// orphaned is our child now, alive or a zombie.
int check_leftovers() {
  int problems = 0;
  // A process killed a moment ago may still be on its way out.
  eventually([] { return probe::children_of(::getpid()).empty(); }, 5s);
  for (const auto& child : probe::children_of(::getpid())) {
    std::fprintf(stderr, "leftover child process %d (%s, state %c)\n", child.pid, child.command.c_str(),
                 child.state);
    ::kill(child.pid, SIGKILL);
    ++problems;
  }
  for (const auto& name : probe::run_segments(::getpid())) {
    std::fprintf(stderr, "leftover shared memory /dev/shm/%s\n", name.c_str());
    probe::remove_segment(name);
    ++problems;
  }
  return problems;
}

}  // namespace

procactor::Runtime& runtime() { return *g_runtime; }

std::string unique_name(std::string_view base) {
  return std::string(base) + "-" + std::to_string(g_names.fetch_add(1) + 1);
}

int run(int argc, char** argv, procactor::Options options, std::chrono::seconds budget) {
  // The crash tests abort() on purpose: no core files for those. Set before
  // the Runtime, whose fork server hands its limits on to every actor.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  auto rt = std::make_unique<procactor::Runtime>(argc, argv, std::move(options));
  g_runtime = rt.get();
  // PROCACTOR_ITEST_BUDGET_S overrides the budget (longer under a debugger).
  if (const char* text = std::getenv("PROCACTOR_ITEST_BUDGET_S")) budget = std::chrono::seconds(std::atoi(text));
  int result = 0;
  {
    watchdog guard(budget);
    doctest::Context context(argc, argv);
    result = context.run();
    g_runtime = nullptr;
    rt.reset();
    if (context.shouldExit()) return result;
  }
  if (const int leftovers = check_leftovers(); leftovers != 0) {
    std::fprintf(stderr, "FAILED: %d leftover(s) of the run after the Runtime was destroyed\n", leftovers);
    if (result == 0) result = 1;
  }
  return result;
}

bool is_terminal(procactor::ActorState state) {
  using procactor::ActorState;
  return state == ActorState::exited || state == ActorState::failed || state == ActorState::killed;
}

procactor::Group actor_scope::group() {
  if (!group_) group_ = runtime().group(unique_name("scope"), {procactor::Strategy::one_for_one, -1, 60s});
  return *group_;
}

actor_scope::~actor_scope() {
  // Gracefully first: close everything, give it a moment to drain.
  for (const auto& ref : refs_) {
    if (!is_terminal(runtime().info(ref).state)) ref.close();
  }
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  for (const auto& ref : refs_) ref.join(std::max<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()), 0ms));
  // Then by force. A kill that lands while the actor waits out a restart
  // backoff is overtaken by the restart (see the report): try again.
  for (const auto& ref : refs_) {
    for (int attempt = 0; attempt < 10 && !is_terminal(runtime().info(ref).state); ++attempt) {
      ref.kill();
      ref.join(2s);
    }
    if (!is_terminal(runtime().info(ref).state)) {
      std::fprintf(stderr, "actor_scope: %s did not stop after 10 kills\n", ref.name().c_str());
    }
  }
}

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/procactor-itest-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void append_line(const std::string& path, std::string_view line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  std::string text(line);
  text += '\n';
  const auto written = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(text.size())) throw std::runtime_error("short write to " + path);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(path, ignored)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

std::vector<procactor::DeadLetter> dead_letters_of(const std::string& actor) {
  std::vector<procactor::DeadLetter> mine;
  for (auto& letter : runtime().dead_letters()) {
    if (letter.actor == actor) mine.push_back(std::move(letter));
  }
  return mine;
}

}  // namespace itest
