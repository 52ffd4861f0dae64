// The supervisor side of a run: owns the arena and every actor process.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "guardian.hpp"
#include "process.hpp"
#include "procactor/runtime.hpp"

namespace procactor::detail {

class supervisor {
 public:
  supervisor(std::vector<std::string> argv, Options options);
  ~supervisor();

  slot_id spawn(std::string_view type, std::string_view name, const SpawnOptions& options);
  bool join(slot_id slot, steady::duration timeout);
  void shutdown();
  ActorInfo info(slot_id slot) const;
  std::vector<ActorInfo> actors() const;
  std::vector<DeadLetter> dead_letters() const;
  void on_event(std::function<void(const ActorEvent&)> callback);
  void capture_output(std::function<void(const OutputLine&)> callback);
  void restart(slot_id slot);
  void signal(slot_id slot, int sig);
  [[nodiscard]] const Options& options() const noexcept { return options_; }

 private:
  struct child {
    slot_config config;  // what the shared slot entry must say; see check_slots
    std::string type;
    std::string name;
    SpawnOptions options;
    int pid = 0;
    int pidfd = -1;
    steady::time_point started{};
    std::deque<steady::time_point> restarts;  // within the intensity window
    steady::duration backoff{};
    std::optional<steady::time_point> restart_due;
    std::string last_exit;
    steady::time_point last_exit_at{};
    bool restart_requested = false;
    // Watchdog: the in-flight message last seen, and since when.
    std::uint64_t watched_position = 0;
    std::uint32_t watched_sender = 0;
    std::uint64_t watched_processed = 0;
    steady::time_point watched_since{};
    int output[2] = {-1, -1};   // read ends of the stdout and stderr pipes
    std::string partial[2];     // a line not yet ended
  };

  void monitor();
  void start(slot_id slot);  // on the monitor thread
  void reaped(slot_id slot, int status);
  void after_crash(slot_id slot, child& c);
  void schedule_restart(slot_id slot, child& c, const std::string& how);
  void set_state(slot_id slot, slot_state state);
  void emit(ActorEvent event);
  bool take_dead_letter(const delivery& d);
  void reap_orphans();
  void watch_for_stalls();
  void check_slots();
  void read_output(slot_id slot, int stream, bool until_eof);
  void close_output(slot_id slot);

  guardian guardian_;
  std::vector<std::string> argv_;
  std::string executable_;  // this program, as resolved at start-up
  Options options_;
  process* process_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Indexed by slot; [0] is the supervisor itself. Sized once, for
  // max_actors, and never reallocated: the monitor thread keeps references
  // into it while spawn() adds actors. Slots below child_count_ are in use.
  std::vector<child> children_;
  std::atomic<std::uint32_t> child_count_{1};
  std::vector<DeadLetter> dead_letters_;
  std::function<void(const ActorEvent&)> on_event_;
  std::function<void(const OutputLine&)> on_output_;
  std::deque<std::pair<slot_id, std::promise<void>>> start_requests_;
  std::vector<int> dead_groups_;  // process groups whose stray members are reaped
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  bool polling_ = false;  // some child has no pidfd: poll waitpid
  bool shut_down_ = false;
  std::thread monitor_thread_;
};

}  // namespace procactor::detail
