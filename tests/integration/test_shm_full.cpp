// A full /dev/shm (the tmpfs, not the arena's own limit): a send that needs
// a new lane fails at once with arena_exhausted saying that /dev/shm is
// full and how big it is, and gives back the arena space it took, so that
// the run's shared_memory_used() stays what the run holds and a /dev/shm
// that has room again serves the next send. The binary's main puts the run
// on a tmpfs of its own (main_shm_full.cpp).
#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "arena.hpp"
#include "process.hpp"
#include "support.hpp"

namespace shmfull {

struct Ping {
  template <class A>
  void serialize(A&) {}
};

}  // namespace shmfull
PROCACTOR_MESSAGE(shmfull::Ping);

namespace shmfull {

class Idle : public procactor::Actor<Idle, Ping> {
 public:
  int on(const Ping&) { return 1; }
};

}  // namespace shmfull
PROCACTOR_ACTOR(shmfull::Idle);

using namespace itest;
using procactor::errc;

namespace {

// Takes every free byte of /dev/shm with a file of its own; removed by the
// destructor.
class filler {
 public:
  filler() {
    fd_ = ::open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd_ >= 0);
    top_up();
  }
  // Takes what was freed since, as any other user of /dev/shm could.
  void top_up() {
    struct statvfs vfs {};
    REQUIRE(::fstatvfs(fd_, &vfs) == 0);
    if (vfs.f_bavail > 0) {
      const off_t free_bytes = static_cast<off_t>(vfs.f_bavail * vfs.f_frsize);
      REQUIRE(::posix_fallocate(fd_, taken_, free_bytes) == 0);
      taken_ += free_bytes;
    }
    REQUIRE(::fstatvfs(fd_, &vfs) == 0);
    REQUIRE(vfs.f_bavail == 0);
  }
  ~filler() {
    ::close(fd_);
    ::unlink(path);
  }
  filler(const filler&) = delete;
  filler& operator=(const filler&) = delete;

 private:
  static constexpr const char* path = "/dev/shm/test-shm-full-filler";
  int fd_ = -1;
  off_t taken_ = 0;
};

}  // namespace

TEST_CASE("a send that finds /dev/shm full fails naming /dev/shm, not the arena's limit, and gives its bytes back" *
          doctest::timeout(150)) {
  actor_scope scope;
  const procactor::detail::arena& shm = procactor::detail::process::current()->shm();
  procactor::ActorRef idle = scope.spawn<shmfull::Idle>("idle");
  {
    filler full;
    const std::uint64_t before = shm.used();
    const std::uint64_t reported = runtime().shared_memory_used();
    for (int i = 0; i < 100; ++i) {
      try {
        idle.send(shmfull::Ping{});
        FAIL("a send needing a new lane succeeded on a full /dev/shm");
      } catch (const procactor::error& e) {
        CHECK(e.code() == errc::arena_exhausted);
        if (i == 0) {
          const std::string text = e.what();
          CHECK_MESSAGE(text.find("/dev/shm is full") != std::string::npos, text);
          CHECK_MESSAGE(text.find(" free") != std::string::npos, text);
          CHECK_MESSAGE(text.find("Options::arena_size") == std::string::npos, text);
        }
      }
    }
    // Failed reservations hold nothing: the figure is what the run holds.
    CHECK(shm.used() == before);
    CHECK(runtime().shared_memory_used() == reported);
    // An ask needs a lane for its reply as well: it hears the same at once.
    auto answer = idle.ask<int>(shmfull::Ping{}, 30s);
    try {
      (void)answer.get();
      FAIL("an ask on a full /dev/shm was answered");
    } catch (const procactor::error& e) {
      CHECK(e.code() == errc::arena_exhausted);
      CHECK_MESSAGE(std::string(e.what()).find("/dev/shm is full") != std::string::npos, e.what());
    }
  }
  // With room again, the same send goes through.
  CHECK_NOTHROW(idle.send(shmfull::Ping{}));
  CHECK(idle.ask<int>(shmfull::Ping{}, 30s).get() == 1);
}

// Allocations share pages, and a tmpfs whose fallocate fails part-way frees
// the pages of its range that are not yet up to date. The page a failed
// allocation shares with the one before it, reserved but not yet written,
// stays reserved (the failing call marks it up to date as it finds it): the
// neighbour's first write, with /dev/shm full, does not raise SIGBUS.
TEST_CASE("an allocation refused by a full /dev/shm leaves its neighbour's page reserved" * doctest::timeout(60)) {
  const procactor::detail::arena& shm = procactor::detail::process::current()->shm();
  const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  // Bring the arena to a page boundary, so that the next allocation is the
  // first to use its page and nothing has touched that page yet.
  const std::uint64_t bumped = shm.header()->bump.load();
  if (bumped % page != 0) REQUIRE(shm.allocate(page - bumped % page).has_value());
  const auto neighbour = shm.allocate(64);
  REQUIRE(neighbour.has_value());
  REQUIRE(*neighbour % page == 0);
  {
    filler full;
    std::string problem;
    CHECK_FALSE(shm.allocate(std::size_t{1} << 20, &problem).has_value());
    CHECK_MESSAGE(problem.find("/dev/shm is full") != std::string::npos, problem);
    // A page the failed call freed goes to whoever asks first.
    full.top_up();
    // The neighbour's first write, in a child so that a SIGBUS is reported
    // rather than ending the test binary.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      *shm.at<std::byte>(*neighbour, 64) = std::byte{1};
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE(WIFEXITED(status), "the neighbour's first write ended it with signal ",
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    CHECK(*shm.at<std::byte>(*neighbour, 64) == std::byte{1});
  }
}
