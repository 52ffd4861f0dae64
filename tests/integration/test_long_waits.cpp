// Options::send_timeout and shutdown_timeout at milliseconds::max(): each is
// taken as about 100 years. Turned into the clock's nanoseconds as given,
// they overflowed to -1 ms: a send into a full lane failed at once with
// "timeout after 0ms", and shutdown() sent SIGTERM at once.
//
// The last test case shuts the runtime down: the file's cases run in order.
#include <sys/stat.h>

#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support.hpp"

namespace long_waits {

struct Job {
  std::string filler;  // a few fill the 4 KiB lane
  template <class Archive>
  void serialize(Archive& archive) {
    archive(filler);
  }
};
struct Ping {
  template <class Archive>
  void serialize(Archive&) {}
};

}  // namespace long_waits
PROCACTOR_MESSAGE(long_waits::Job);
PROCACTOR_MESSAGE(long_waits::Ping);

namespace long_waits {

// Params: "hold". Stays in the handler of the job in hand while that file
// exists; writes "<hold>.started" when it first does.
class Holder : public procactor::Actor<Holder, Job> {
 public:
  void on(const Job&) {
    const std::string hold = params().get<std::string>("hold");
    std::ofstream(hold + ".started").flush();
    struct stat info {};
    while (::stat(hold.c_str(), &info) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

// Params: "journal", "stop_ms". on_stop takes stop_ms, then writes "stopped".
class SlowStop : public procactor::Actor<SlowStop, Ping> {
 public:
  void on(const Ping&) {}
  void on_stop() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(params().get<std::int64_t>("stop_ms")));
    itest::append_line(params().get<std::string>("journal"), "stopped");
  }
};

}  // namespace long_waits
PROCACTOR_ACTOR(long_waits::Holder);
PROCACTOR_ACTOR(long_waits::SlowStop);

using namespace itest;

// join, next_down and recv took std::chrono::milliseconds: hours::max()
// and seconds::max() overflowed as they were converted, before the bound,
// and a wait "for ever" returned false or nullopt at once.
TEST_CASE("join and next_down with hours::max() or seconds::max() wait for the end" * doctest::timeout(60)) {
  temp_dir dir;
  actor_scope scope;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal")).set("stop_ms", std::int64_t{300});
  const procactor::ActorRef slow = scope.spawn<long_waits::SlowStop>("slow-stop", options);
  slow.ask<void>(long_waits::Ping{}, 30s).get();  // running, on_start done
  runtime().monitor(slow);
  slow.close();
  const std::optional<procactor::Down> down = runtime().next_down(std::chrono::hours::max());
  REQUIRE(down.has_value());
  CHECK(down->actor == slow);
  CHECK(slow.join(std::chrono::hours::max()));
  CHECK(slow.join(std::chrono::seconds::max()));
  CHECK(read_lines(dir.file("journal")) == std::vector<std::string>{"stopped"});
}

TEST_CASE("a send into a full lane with send_timeout at milliseconds::max() waits for room" * doctest::timeout(60)) {
  actor_scope scope;
  temp_dir dir;
  const std::string hold = dir.file("hold");
  std::ofstream(hold).flush();
  procactor::SpawnOptions options;
  options.mailbox_capacity = 4096;
  options.params.set("hold", hold);
  const procactor::ActorRef holder = scope.spawn<long_waits::Holder>("holder", options);
  const long_waits::Job job{std::string(200, 'x')};
  holder.send(job);
  REQUIRE(eventually([&] { return std::filesystem::exists(hold + ".started"); }));
  int queued = 0;
  while (queued < 1000 && holder.try_send(job) == procactor::errc::ok) ++queued;
  REQUIRE(holder.try_send(job) == procactor::errc::full);

  std::atomic<bool> returned{false};
  std::exception_ptr failure;
  std::thread sender([&] {
    try {
      holder.send(job);  // Options::send_timeout
    } catch (...) {
      failure = std::current_exception();
    }
    returned = true;
  });
  std::this_thread::sleep_for(1s);
  CHECK_FALSE(returned.load());
  std::filesystem::remove(hold);
  sender.join();
  if (failure) CHECK_NOTHROW(std::rethrow_exception(failure));
}

// Last: it ends the run.
TEST_CASE("shutdown with shutdown_timeout at milliseconds::max() waits for on_stop rather than SIGTERM at once" *
          doctest::timeout(60)) {
  temp_dir dir;
  procactor::SpawnOptions options;
  options.params.set("journal", dir.file("journal")).set("stop_ms", std::int64_t{1500});
  // Not in an actor_scope: nothing of the run is left to look at after shutdown().
  const procactor::ActorRef slow = runtime().spawn<long_waits::SlowStop>(unique_name("slow-stop"), options);
  slow.ask<void>(long_waits::Ping{}, 30s).get();  // running, on_start done
  const auto asked = std::chrono::steady_clock::now();
  runtime().shutdown();
  CHECK(std::chrono::steady_clock::now() - asked >= 1400ms);
  CHECK(read_lines(dir.file("journal")) == std::vector<std::string>{"stopped"});
}
