// Supervision trees: groups with a restart strategy and an intensity,
// monitors and their Down messages, and the exit records of an actor.
//
//   procactor::Runtime rt(argc, argv);
//   auto pipeline = rt.group("pipeline", {.strategy = procactor::Strategy::rest_for_one,
//                                         .max_restarts = 3, .within = 10s});
//   auto reader = rt.spawn<Reader>("reader", {.group = pipeline});
//   auto parser = rt.spawn<Parser>("parser", {.group = pipeline});
//
// As in Erlang/OTP: a group restarts its children by its strategy; more than
// max_restarts restarts among them within `within` and it gives up: it stops
// its children in reverse start order and fails as one child of its parent
// group, which restarts it (all its children, in start order) or gives up in
// turn. When the root group (Options::supervision) gives up, supervision
// ends: every actor is stopped and Runtime::gave_up() says why.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actor_ref.hpp"
#include "message.hpp"

namespace procactor {

// Which children a group restarts when one of them dies and is restarted.
enum class Strategy : std::uint8_t {
  one_for_one,   // that child only
  one_for_all,   // every child of the group
  rest_for_one,  // that child and those started after it
};
std::string_view to_string(Strategy strategy) noexcept;

// When a dead actor process is started again (Erlang/OTP's restart types).
enum class Restart : std::uint8_t {
  permanent,  // always
  transient,  // only after an abnormal exit (a signal or a non-zero code)
  temporary,  // never
};
std::string_view to_string(Restart restart) noexcept;

struct GroupOptions {
  Strategy strategy = Strategy::one_for_one;
  // The group's intensity: more than this many restarts among its children
  // (a strategy that restarts three children counts once) within `within`
  // and the group gives up. <0: no limit.
  int max_restarts = 10;
  std::chrono::milliseconds within = std::chrono::seconds(60);
};

// A handle on a supervision group; the default one is the root group.
class Group {
 public:
  Group() = default;
  explicit Group(std::uint32_t id) : id_(id) {}
  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
  [[nodiscard]] bool is_root() const noexcept { return id_ == 0; }
  friend bool operator==(const Group&, const Group&) = default;

 private:
  std::uint32_t id_ = 0;
};

// What a monitor gets when the actor it watches exits: a message in its
// mailbox (an actor), or from Runtime::next_down (the supervising program).
struct Down {
  ActorRef actor;
  std::string name;      // the actor's name, "worker.1"
  int replica = 0;       // the N of name.N (SpawnOptions::replica)
  int exit_code = -1;    // its exit code; -1 when a signal ended it
  int signal = 0;        // the signal that ended it; 0 when it exited
  bool core_dumped = false;
  // A restart follows, and the monitor stays on the next incarnation. When
  // false the actor is gone for good and the monitor is removed.
  bool restarting = false;
  std::string reason;  // "exit code 1", "signal 9 (Killed)", "no such actor"

  template <class Archive>
  void serialize(Archive& archive) {
    archive(actor, name, replica, exit_code, signal, core_dumped, restarting, reason);
  }
};

// How Runtime::restart stops the running incarnation.
struct RestartOptions {
  // SIGKILL at once: no on_stop, the message in flight is redelivered.
  bool force = false;
  // Handle what is queued first (like close()); otherwise the actor stops
  // after the message in hand and the queue waits for the next incarnation.
  // While it drains, new sends wait or fail as they do for a closed actor.
  bool drain = false;
  // How long on_stop may take before SIGTERM, then 2 s later SIGKILL (a
  // fixed grace, whatever this is); unset: Options::shutdown_timeout.
  std::optional<std::chrono::milliseconds> timeout{};
};

// One exit of an actor process, kept for inspection (the last 10).
struct ExitRecord {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;
  bool core_dumped = false;
  std::string how;     // "exit code 1", "signal 11 (Segmentation fault), core dumped"
  std::string cause;   // "crashed", "restart on request", "hung (watchdog)", "group restart", "stopped"
  std::chrono::milliseconds uptime{};
  std::chrono::system_clock::time_point at{};
  // The message it was handling when it died; empty type when none.
  std::string inflight_type;
  std::string inflight_sender;  // the sender's actor name ("supervisor" for the program)
  std::uint32_t attempt = 0;    // how many times that message has now ended the actor
  std::vector<std::string> stderr_tail;  // its last lines on stderr (at most 20)
};

}  // namespace procactor

PROCACTOR_MESSAGE(procactor::Down);
