// Actors for the supervision tests (test_supervision.cpp, test_give_up.cpp).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace supervision {

struct Pid {
  template <class Archive>
  void serialize(Archive&) {}
};
// Prints `note` on stderr and aborts, `times` times for the same message.
struct Crash {
  std::string note;
  int times = 1;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(note, times);
  }
};
struct Work {
  int id = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(id);
  }
};
struct Watch {
  procactor::ActorRef target;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(target);
  }
};
struct Downs {
  template <class Archive>
  void serialize(Archive&) {}
};
// Ends process `pid` with _exit(code), after starting a thread that is
// still running then when `second_thread`. Redelivered to the next
// incarnation (it was in flight), it does nothing.
struct Quit {
  int code = 0;
  bool second_thread = false;
  int pid = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(code, second_thread, pid);
  }
};

}  // namespace supervision
PROCACTOR_MESSAGE(supervision::Pid);
PROCACTOR_MESSAGE(supervision::Crash);
PROCACTOR_MESSAGE(supervision::Work);
PROCACTOR_MESSAGE(supervision::Watch);
PROCACTOR_MESSAGE(supervision::Downs);
PROCACTOR_MESSAGE(supervision::Quit);

namespace supervision {

// Writes "start", "stop" and each Work id (one line each) to its journal.
class Member : public procactor::Actor<Member, Pid, Crash, Work, Quit> {
 public:
  void on_start() override { note("start"); }
  void on_stop() override { note("stop"); }
  int on(const Pid&) { return static_cast<int>(::getpid()); }
  void on(const Crash& c) {
    std::fprintf(stderr, "%s\n", c.note.c_str());
    std::fflush(stderr);
    std::abort();
  }
  void on(const Quit& q) {
    if (q.pid != static_cast<int>(::getpid())) return;
    if (q.second_thread) {
      std::thread([] {
        for (;;) ::pause();
      }).detach();
    }
    ::_exit(q.code);
  }
  void on(const Work& w) {
    note(std::to_string(w.id));
    if (const auto ms = params().get_or<std::int64_t>("work_ms", 0); ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
  }

 private:
  // Lines are prefixed with the `tag` param, when there is one.
  void note(const std::string& line) {
    if (!params().contains("journal")) return;
    const std::string tag = params().get_or<std::string>("tag", "");
    itest::append_line(params().get<std::string>("journal"), tag.empty() ? line : tag + " " + line);
  }
};

// Monitors what it is told to, and remembers each Down as
// "<name> signal <n> restarting" or "<name> exit <code> gone".
class Watcher : public procactor::Actor<Watcher, Watch, Downs, procactor::Down> {
 public:
  void on(const Watch& w) { monitor(w.target); }
  void on(const procactor::Down& d) {
    seen_.push_back(d.name + (d.signal != 0 ? " signal " + std::to_string(d.signal) : " exit " + std::to_string(d.exit_code)) +
                    (d.restarting ? " restarting" : " gone"));
  }
  std::vector<std::string> on(const Downs&) { return seen_; }

 private:
  std::vector<std::string> seen_;
};

}  // namespace supervision
PROCACTOR_ACTOR(supervision::Member);
PROCACTOR_ACTOR(supervision::Watcher);
