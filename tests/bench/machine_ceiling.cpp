#include "machine_ceiling.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "../../examples/plugin/primes.hpp"

namespace procactor_bench {

namespace {

// The range each process counts again and again: about a millisecond of
// trial division, the work of a PrimeCounter in small.
constexpr std::int64_t unit_to = 20'000;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Shared with the children: when to start (0: not yet), then one count per
// process.
struct board {
  std::atomic<std::int64_t> start_ns{0};
  std::atomic<std::uint64_t>* units() { return reinterpret_cast<std::atomic<std::uint64_t>*>(this + 1); }
};

// In the child: only computation, the clock, atomics and _exit, as after a
// fork of a threaded program.
[[noreturn]] void count_until_told(board* b, unsigned index, std::int64_t duration_ns) {
  std::int64_t start = 0;
  while ((start = b->start_ns.load(std::memory_order_acquire)) == 0 || now_ns() < start) {
  }
  const std::int64_t end = start + duration_ns;
  std::uint64_t units = 0;
  volatile std::int64_t sink = 0;
  while (now_ns() < end) {
    sink = examples::count_primes(2, unit_to);
    ++units;
  }
  (void)sink;
  b->units()[index].store(units, std::memory_order_release);
  ::_exit(0);
}

// Kills and reaps whatever children are left, whatever happens.
struct children {
  std::vector<pid_t> pids;
  ~children() {
    for (pid_t pid : pids) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (pid_t pid : pids) {
      if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

double ceiling_units(unsigned processes, std::chrono::milliseconds duration) {
  if (processes == 0) throw std::invalid_argument("machine ceiling: no processes");
  const std::size_t bytes = sizeof(board) + processes * sizeof(std::atomic<std::uint64_t>);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  struct unmap {
    void* p;
    std::size_t n;
    ~unmap() { ::munmap(p, n); }
  } mapping{mem, bytes};
  auto* b = new (mem) board;
  for (unsigned i = 0; i < processes; ++i) new (b->units() + i) std::atomic<std::uint64_t>(0);
  const std::int64_t duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
  children kids;
  for (unsigned i = 0; i < processes; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) count_until_told(b, i, duration_ns);
    kids.pids.push_back(pid);
  }
  // All of them forked and spinning: start together a little later, so
  // that none starts before the last one exists.
  b->start_ns.store(now_ns() + 20'000'000, std::memory_order_release);
  double total = 0;
  for (unsigned i = 0; i < processes; ++i) {
    int status = 0;
    if (::waitpid(kids.pids[i], &status, 0) != kids.pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error("machine ceiling: a counting process did not exit cleanly");
    }
    kids.pids[i] = 0;
    total += static_cast<double>(b->units()[i].load(std::memory_order_acquire));
  }
  return total;
}

}  // namespace procactor_bench
