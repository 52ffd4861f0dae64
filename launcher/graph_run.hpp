// One run of a graph under a Runtime, from the first spawn until every
// instance has finished: `launch` in the foreground, or the background
// process of `launch --detach`.
//
// End of stream: an actor instance that exits normally has finished. When
// every instance upstream of an actor has finished, its instances are
// closed: they drain their mailboxes, run on_stop (where a sink reports),
// exit, and so pass the end on. Sources finish by returning from run().
//
// Supervision is the runtime's: the launcher makes one Runtime::group per
// [groups.NAME] (right before the first actor in it starts, so that start
// order is the launcher's spawn order) and only reports what the groups do.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <procactor/runtime.hpp>

#include "commands.hpp"
#include "control_protocol.hpp"
#include "graph.hpp"
#include "log_writer.hpp"
#include "run_dir.hpp"
#include "terminal.hpp"
#include "run_status.hpp"

namespace procactor::launcher {

// This process as one node of a multi-node run (node.cpp): the instances
// placed on the other nodes get remote slots here, and the gateway tells
// the other nodes what they need to know.
// The control message a node sends every other when its part of the run
// fails (SIGTERM from mpirun or srun): "fail\nWHY". They fail too, at once,
// rather than take the end of its actors for the end of their input.
inline constexpr std::string_view node_fail_prefix = "fail\n";

struct node_role {
  std::size_t index = 0;  // into graph.cluster->nodes
  std::string name;
  // A local instance is gone for good (its slot).
  std::function<void(std::uint32_t)> local_finished;
  // A control message to every other node.
  std::function<void(const std::string&)> broadcast;
  // A line for the launching host's standard output, which only node 0
  // writes (cluster_control.hpp): set on the other nodes, it hands the line
  // to node 0; false when the link is gone.
  std::function<bool(const std::string&)> emit;
};

class graph_run {
 public:
  graph_run(const Graph& graph, const LaunchOptions& options, RunEntry run);
  ~graph_run();
  graph_run(const graph_run&) = delete;
  graph_run& operator=(const graph_run&) = delete;

  // Spawns the graph and runs it to its end; returns the exit code.
  int run(Runtime& rt);
  // The Runtime could not even be made: the run ends before it began.
  int failed_to_start(const std::string& why);
  // A line of the launcher's own ("procactor | TEXT"), also into run.log;
  // from any thread.
  // After the run's last line, such a line goes to stderr ("procactor:
  // TEXT") and run.log: the last line stays last on stdout.
  void say(const std::string& text) { print(0, "procactor", text, true, line_kind::runtime); }

  // A multi-node run: set before run().
  void set_node(node_role role);
  // From the gateway's thread.
  void remote_finished(std::uint32_t slot);  // an instance of another node is gone for good
  // Another node stops the run: now, or in order within `timeout` (absent:
  // the graph's shutdown_timeout).
  void remote_stop(bool force, std::optional<std::chrono::nanoseconds> timeout = {});
  void link_failed(const std::string& why);  // the nodes can no longer reach each other
  // Another node's part of the run failed (node_fail_prefix): this node's
  // stops at once too, and ends as a job that is being ended does.
  void node_failed(const std::string& why);
  // A line for the launching host (a frame, or node 0 passing on another
  // node's line): node 0 writes it to its standard output, another node
  // hands it to node 0. From any thread.
  void relay(const std::string& line);
  // The node's link is about to go: from now on its lines go to stderr.
  void close_node_output();
  // mpirun or srun is ending the job (SIGTERM), or another node said it
  // fails: the other nodes will not say goodbye.
  [[nodiscard]] bool job_ended() const noexcept { return job_ended_; }
  // A control request relayed from the launching host, answered as the
  // control socket answers it. From any thread but the run loop's.
  [[nodiscard]] std::string answer(Runtime& rt, const ControlRequest& request) { return control(rt, request); }

 private:
  using steady = std::chrono::steady_clock;

  struct instance {
    std::size_t actor = 0;  // index into graph.actors
    int replica = 0;
    std::string name;  // "worker.1"
    ActorRef ref;      // invalid until spawned; guarded by refs_mutex_
    bool finished = false;  // exited for good, or never started
    bool ready = false;     // has run (or finished): counted by the ready line
    bool remote = false;    // runs on another node (a multi-node run)
    bool retired = false;   // scaled away: out of the routes, closed
    std::chrono::steady_clock::time_point spawned{};  // first spawned; guarded by refs_mutex_
  };
  // `procactor scale`: asked on the control thread, done by the run loop,
  // which alone changes instances_ (control waits for the answer).
  struct scale_request {
    std::size_t actor = 0;  // index into graph.actors
    std::uint32_t replicas = 0;
    std::promise<std::string> answer;
  };
  // What the gateway's thread hands the run loop.
  struct node_news {
    std::vector<std::uint32_t> finished;  // slots
    std::optional<bool> stop;             // force?
    std::optional<std::chrono::nanoseconds> stop_timeout;
    std::string failure;
    bool failed_elsewhere = false;  // the failure is another node's (node_failed)
  };

  [[nodiscard]] std::vector<std::size_t> upstream_of(std::size_t actor) const;
  [[nodiscard]] std::filesystem::path log_path(std::size_t index) const {
    return run_.dir / "logs" / (instances_[index].name + ".log");
  }
  [[nodiscard]] std::size_t group_index(std::string_view name) const;  // into graph.groups
  // The runtime's handle on graph.groups[index], made (with its parents)
  // the first time an actor of it is spawned.
  Group group_handle(Runtime& rt, std::size_t index);
  bool spawn_all(Runtime& rt);
  [[nodiscard]] bool stop_pending();
  enum class line_kind : std::uint8_t { plain, runtime, last };
  void print(std::size_t colour, const std::string& who, const std::string& text, bool launcher_event,
             line_kind kind = line_kind::plain);
  // An event's line, on the thread that reports it (in order with the
  // actors' output); the run loop acts on it later (handle).
  void tell(Runtime& rt, const ActorEvent& event);
  void handle(Runtime& rt, const ActorEvent& event);
  // A line of events.jsonl, now.
  void record_event(std::string kind, std::string actor, int pid, std::string detail);
  // final_status.json: the run's last status, as `status` would answer.
  void write_final_status(Runtime& rt);
  void gave_up(Runtime& rt, const ActorEvent& event);
  void settle(Runtime& rt, instance& inst);
  // Under report_mutex_.
  void observe(instance& inst, const ActorInfo& info);
  bool all_ready(Runtime& rt);
  bool report_ready(Runtime& rt);
  // tell_nodes: on a node, the other nodes stop too.
  void begin_stop(std::chrono::nanoseconds timeout, bool tell_nodes = true);
  void stop_within(std::chrono::nanoseconds timeout, bool tell_nodes = true);
  void tell_nodes_stop(std::chrono::nanoseconds timeout);
  void force_stop(bool tell_nodes = false);
  void end_of_stream();
  void mark_finished(instance& inst);
  // `tell_nodes`: the failure is this node's own, and the others are told
  // (node_fail_prefix) before its actors are stopped.
  void fail_now(const std::string& why, bool tell_nodes = false);
  std::string scale(Runtime& rt, std::size_t actor, std::uint32_t replicas);
  std::string ask_scale(const ControlRequest& request);
  // The instances a route to `target` leads to now: every replica not
  // scaled away.
  [[nodiscard]] std::vector<std::string> live_targets(const ActorSpec& target) const;
  [[nodiscard]] bool input_ended(std::size_t actor) const;
  void take_node_news();
  [[nodiscard]] std::size_t local_count() const;
  int finish(steady::time_point started);

  // run_control.cpp: the control socket's requests, on its thread.
  std::string control(Runtime& rt, const ControlRequest& request);
  // Those scaled away and ended too when `with_gone` (marked gone): the
  // status counts what they did in its edges.
  [[nodiscard]] std::vector<instance_ref> instance_refs(bool with_gone = false);
  // The live status line: messages, msg/s since the last, restarts, elapsed.
  void update_progress(Runtime& rt, std::chrono::steady_clock::time_point started);
  void show_progress(const std::string& text);  // "" clears it

  const Graph& graph_;
  RunEntry run_;
  bool colour_;
  bool terminal_ = stdout_is_terminal();  // actors' text is then terminal_safe
  std::vector<instance> instances_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
  std::vector<std::optional<Group>> groups_;  // as graph.groups; made on first use
  // Each instance's log, open while it runs and has written: made on the
  // runtime's monitor thread only, released when the instance finishes;
  // guarded by refs_mutex_ (a line being written holds its own reference).
  std::vector<std::shared_ptr<log_writer>> logs_;
  log_writer run_log_;
  log_writer event_log_;
  std::mutex print_mutex_;
  bool node_output_closed_ = false;  // guarded by print_mutex_
  bool last_said_ = false;           // the run's last line is out; guarded by print_mutex_
  bool told_inputless_ = false;      // said what alone keeps the run going (end_of_stream)
  // The live status line on a terminal, between "ready" and the end: the
  // text shown (empty: none), redrawn under every line printed above it.
  bool progress_ = stdout_redraws();
  std::string progress_text_;  // guarded by print_mutex_
  std::chrono::steady_clock::time_point progress_at_{};
  std::uint64_t progress_processed_ = 0;
  std::mutex control_mutex_;         // the control socket's thread, and requests relayed to a node
  // The control thread reads refs while spawn_all writes them, and the
  // output callback looks up instances while a scale-up adds some.
  std::mutex refs_mutex_;

  std::mutex events_mutex_;
  std::deque<ActorEvent> events_;
  std::deque<std::chrono::nanoseconds> stop_requests_;
  std::deque<scale_request> scale_requests_;
  bool loop_ended_ = false;  // guarded by events_mutex_: no more requests are taken
  std::vector<std::uint32_t> next_replica_;  // per actor: the N of the next "name.N" a scale-up makes
  // Written (an eventfd) when an event or a stop request is queued: the run
  // loop sleeps on it and the stop-signal pipe, not on a timer.
  int wake_fd_ = -1;
  void wake() noexcept;

  // Set on the run loop, read by the control thread too (a restart asked
  // while the run stops is refused).
  std::atomic<bool> stopping_{false};
  bool job_ended_ = false;
  bool stopped_by_user_ = false;
  std::optional<steady::time_point> force_at_;
  std::chrono::nanoseconds force_after_{};  // the timeout force_at_ came from
  std::string failure_;
  // Messages of this node's instances that became dead letters, by actor
  // instance, for the run's last line.
  std::vector<std::pair<std::string, std::uint64_t>> dead_letters_;
  // Of those kept, how many were lost because /dev/shm was full: the run fails.
  std::uint64_t shm_full_letters_ = 0;
  // The run directory was found gone (check_run_dir), checked once a second.
  void check_run_dir();
  bool run_dir_gone_ = false;
  steady::time_point next_run_dir_check_{};
  // Each group that gave up, by name: the culprit, and the limit it went
  // past. The root's report names the groups on the culprit's way up.
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> gave_up_;
  // The ready line is told from the run loop or from tell(), whichever sees
  // first that every instance has run: report_mutex_ guards its state, the
  // instances' ready flags and ready_count_.
  std::mutex report_mutex_;
  std::size_t ready_count_ = 0;
  bool ready_told_ = false;
  bool ready_moot_ = false;  // a stop began first: no ready line
  bool ended_ = false;       // the run loop is done: tell() tells nothing more
  steady::time_point started_{};
  std::optional<node_role> node_;
  node_news news_;  // guarded by events_mutex_
  status_sampler sampler_;  // control thread only
};

}  // namespace procactor::launcher
