#include "graph_run.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <system_error>
#include <thread>

#include "cluster_control.hpp"
#include "control.hpp"
#include "detach.hpp"
#include "json_text.hpp"
#include "run_inspect.hpp"
#include "runtime_options.hpp"
#include "stop_signals.hpp"
#include "terminal.hpp"

namespace procactor::launcher {

namespace {

bool is_terminal(ActorState state) {
  return state == ActorState::exited || state == ActorState::failed || state == ActorState::killed;
}

// As events.jsonl names them.
const char* kind_name(ActorEvent::Kind kind) {
  switch (kind) {
    case ActorEvent::Kind::started: return "started";
    case ActorEvent::Kind::exited: return "exited";
    case ActorEvent::Kind::restarting: return "restarting";
    case ActorEvent::Kind::gave_up: return "gave_up";
  }
  return "unknown";
}

}  // namespace

graph_run::graph_run(const Graph& graph, const LaunchOptions& options, RunEntry run)
    : graph_(graph),
      run_(std::move(run)),
      colour_(options.color && colour_for(STDOUT_FILENO)),
      groups_(graph.groups.size()),
      run_log_(run_.dir / "run.log", log_rotate_bytes()),
      event_log_(run_.dir / "events.jsonl", log_rotate_bytes()) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  record_graph(run_, graph_.name, options.file);
  for (std::size_t a = 0; a < graph_.actors.size(); ++a) {
    for (std::uint32_t r = 0; r < graph_.actors[a].replicas; ++r) {
      const std::string name = instance_name(graph_.actors[a], r);
      by_name_[name] = instances_.size();
      instances_.push_back({a, static_cast<int>(r), name, {}, false, false});
      // Every instance has its log file from the start, so `logs RUN
      // NAME.N` works for a silent one; it is opened for writing only when
      // there is something to write, so idle actors cost no descriptor.
      create_log_file(log_path(instances_.size() - 1));
    }
  }
  logs_.resize(instances_.size());
  for (const ActorSpec& actor : graph_.actors) next_replica_.push_back(actor.replicas);
  groups_[0] = Group{};  // the root
}

std::vector<std::size_t> graph_run::upstream_of(std::size_t actor) const {
  std::vector<std::size_t> upstream;
  for (const auto& route : graph_.routes) {
    if (route.to != graph_.actors[actor].name) continue;
    for (std::size_t a = 0; a < graph_.actors.size(); ++a) {
      if (graph_.actors[a].name == route.from) upstream.push_back(a);
    }
  }
  return upstream;
}

void graph_run::print(std::size_t colour, const std::string& actor_or_launcher, const std::string& text,
                      bool launcher_event, line_kind kind) {
  // On a node of a multi-node run, its own lines say which node.
  const std::string who = launcher_event && node_ ? actor_or_launcher + "@" + node_->name : actor_or_launcher;
  std::lock_guard guard(print_mutex_);
  const std::string plain = who + " | " + text;
  run_log_.stamped(plain);
  if (kind == line_kind::runtime && last_said_) {
    std::cerr << "procactor: " << text << std::endl;
    return;
  }
  if (kind == line_kind::last) last_said_ = true;
  // Another node's lines reach the launching host through node 0.
  if (node_ && node_->index != 0) {
    if (node_output_closed_ || !node_->emit(plain)) std::cerr << plain << std::endl;
    return;
  }
  if (!progress_text_.empty()) std::cout << "\r\033[K";  // the status line makes way, and comes back below
  if (colour_) {
    std::cout << coloured_line(who, terminal_ ? terminal_safe(text) : text, launcher_event, colour) << '\n';
  } else {
    std::cout << (terminal_ ? terminal_safe(plain) : plain) << '\n';
  }
  if (!progress_text_.empty()) std::cout << progress_text_;
  std::cout.flush();
}

void graph_run::show_progress(const std::string& text) {
  std::lock_guard guard(print_mutex_);
  if (text.empty() && progress_text_.empty()) return;
  progress_text_ = text;
  std::cout << "\r\033[K" << text;
  std::cout.flush();
}

void graph_run::update_progress(Runtime& rt, steady::time_point started) {
  const auto now = steady::now();
  // Not on a node of a multi-node run: mpirun may give it a terminal, but
  // its lines go to the launching host, which has its own.
  if (!progress_ || node_ || now - progress_at_ < std::chrono::seconds(1)) return;
  std::uint64_t processed = 0;
  std::uint64_t restarts = 0;
  for (const auto& inst : instances_) {
    if (!inst.ref.valid() || inst.remote) continue;
    const ActorInfo info = rt.info(inst.ref);
    processed += info.processed;
    restarts += info.restarts;
  }
  const double since = progress_at_ == steady::time_point{} ? std::chrono::duration<double>(now - started).count()
                                                            : std::chrono::duration<double>(now - progress_at_).count();
  const double rate = since > 0 && processed >= progress_processed_
                          ? static_cast<double>(processed - progress_processed_) / since
                          : 0.0;
  progress_at_ = now;
  progress_processed_ = processed;
  const double elapsed = std::chrono::duration<double>(now - started).count();
  // One column short of the width: a line that fills the last column
  // leaves some terminals' cursor on the next row.
  const std::size_t columns = stdout_columns();
  show_progress(progress_line(processed, rate, restarts, elapsed, colour_, columns > 1 ? columns - 1 : 0));
}

void graph_run::relay(const std::string& line) {
  std::lock_guard guard(print_mutex_);
  if (node_ && node_->index != 0) {
    if (!node_output_closed_) (void)node_->emit(line);
    return;
  }
  std::cout << line << std::endl;
}

void graph_run::close_node_output() {
  std::lock_guard guard(print_mutex_);
  node_output_closed_ = true;
}

graph_run::~graph_run() { ::close(wake_fd_); }

void graph_run::wake() noexcept {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

bool graph_run::stop_pending() {
  if (stop_signalled()) return true;
  std::lock_guard guard(events_mutex_);
  return !stop_requests_.empty();
}

std::size_t graph_run::group_index(std::string_view name) const {
  const GroupSpec* group = graph_.find_group(name);
  return group == nullptr ? 0 : static_cast<std::size_t>(group - graph_.groups.data());
}

Group graph_run::group_handle(Runtime& rt, std::size_t index) {
  if (groups_[index]) return *groups_[index];
  const GroupSpec& spec = graph_.groups[index];
  const Group parent = group_handle(rt, group_index(spec.parent));
  groups_[index] = rt.group(spec.name, spec.options, parent);
  return *groups_[index];
}

// Returns true when every instance was spawned. A spawn that fails, or a
// stop asked for meanwhile, ends the start-up: the instances not spawned
// count as finished, so the end of stream still reaches everything that runs.
bool graph_run::spawn_all(Runtime& rt) {
  const auto cores = std::max(1U, std::thread::hardware_concurrency());
  bool complete = true;
  for (std::size_t a : start_order(graph_)) {
    const ActorSpec& actor = graph_.actors[a];
    const SpawnOptions base = spawn_options(graph_, actor);
    for (auto& inst : instances_) {
      if (inst.actor != a) continue;
      if (stop_pending()) {
        complete = false;
        break;
      }
      SpawnOptions options = base;
      options.replica = inst.replica;
      if (node_ && node_for_replica(graph_, actor, static_cast<std::uint32_t>(inst.replica)) != node_->index) {
        // Its node runs it; here it is a mailbox for the gateway.
        options.group = Group{};
        try {
          const ActorRef ref = rt.remote(actor.type, inst.name, options);
          std::scoped_lock guard(refs_mutex_, report_mutex_);
          inst.ref = ref;
          inst.remote = true;
          inst.ready = true;
          ++ready_count_;
        } catch (const std::exception& e) {
          failure_ = "cannot declare " + inst.name + ": " + e.what();
          print(0, "procactor", "stopping the graph: " + failure_, true);
          complete = false;
          break;
        }
        continue;
      }
      options.cpu = cpu_for_replica(actor.cpu, static_cast<std::uint32_t>(inst.replica), cores).value_or(options.cpu);
      try {
        // Made right before its first actor starts: a group's place among
        // its parent's members is where it was made.
        options.group = group_handle(rt, group_index(actor.group));
        const ActorRef ref = rt.spawn(actor.type, inst.name, options);
        std::lock_guard guard(refs_mutex_);
        inst.ref = ref;
        inst.spawned = std::chrono::steady_clock::now();
      } catch (const std::exception& e) {
        failure_ = "cannot start " + inst.name + ": " + e.what();
        print(0, "procactor", "stopping the graph: " + failure_, true);
        complete = false;
        break;
      }
    }
    if (!complete) break;
  }
  if (complete) return true;
  for (auto& inst : instances_) {
    if (!inst.ref.valid()) mark_finished(inst);
  }
  if (!failure_.empty()) {
    begin_stop(graph_.shutdown_timeout);
    force_stop();
  }
  end_of_stream();
  return false;
}

// An instance is ready once it has run: seen running, seen finished
// normally (it ran, and may have been quick about it), or seen to have
// handled a message. Starting, or crashing before it ever ran, is not ready.
void graph_run::observe(instance& inst, const ActorInfo& info) {
  if (inst.ready) return;
  if (info.state == ActorState::running || info.state == ActorState::exited || info.processed > 0) {
    inst.ready = true;
    ++ready_count_;
  }
}

bool graph_run::all_ready(Runtime& rt) {
  // In order, up to the first that is not ready yet: the loop asks every
  // few milliseconds while a graph starts, and each look takes the
  // supervisor's lock. Under refs_mutex_: tell() asks from another thread
  // than the run loop's, which writes refs and adds instances (a scale-up).
  std::lock_guard guard(refs_mutex_);
  for (auto& inst : instances_) {
    if (inst.ready) continue;
    // An instance that exits at once is told of before spawn_all has its
    // ref; the runtime knows it by name.
    const ActorRef ref = inst.ref.valid() ? inst.ref : rt.find(inst.name);
    if (!ref.valid()) return false;  // not spawned (yet)
    observe(inst, rt.info(ref));
    if (!inst.ready) return false;
  }
  return ready_count_ == instances_.size();
}

// The ready line, once every instance has run: from the run loop, which
// looks every few milliseconds while the graph starts, or from tell(), right
// before the line of an exit. An exit reported after every instance had run
// so never prints before it, whichever thread gets there first. Not once a
// stop has begun: an instance closed before it ever ran exits normally, and
// would count. True once the line has been told.
bool graph_run::report_ready(Runtime& rt) {
  if (ready_told_) return true;
  if (ready_moot_ || !all_ready(rt)) return false;
  ready_told_ = true;
  const auto ms = std::chrono::duration<double, std::milli>(steady::now() - started_).count();
  char text[64];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  std::size_t count = 0;
  {
    std::lock_guard guard(refs_mutex_);
    count = local_count();
  }
  print(0, "procactor", format_count(count, "actor") + " ready in " + text, true);
  record_event("ready", "", 0, format_count(count, "actor") + " ready in " + text);
  if (node_) relay(relay::ready_frame(node_->index, count));
  return true;
}

std::size_t graph_run::local_count() const {
  return static_cast<std::size_t>(
      std::count_if(instances_.begin(), instances_.end(), [](const instance& inst) { return !inst.remote; }));
}

// A local instance that finished is news for the other nodes: their actors
// downstream of it may be waiting for its end.
void graph_run::mark_finished(instance& inst) {
  if (inst.finished) return;
  {
    std::lock_guard guard(refs_mutex_);  // instance_refs() leaves out what was scaled away and is gone
    inst.finished = true;
    // Its log is closed: an instance that scale took away, or that ended
    // for good, writes no more (a run that scales up and down for days
    // held a descriptor for each). Every line it wrote is in the file
    // already (one write each); a line still being written holds the
    // writer until it is done.
    if (const auto it = by_name_.find(inst.name); it != by_name_.end()) logs_[it->second].reset();
  }
  // Not once the job is ending (SIGTERM here, or another node said it
  // fails): its actors are stopped, not finished, and the other nodes, told
  // that it fails, must not take their end for the end of their input (a
  // sink's on_stop would publish a partial result). After a give-up here
  // they are, as the other nodes stop now and wait for every instance.
  if (node_ && !job_ended_ && !inst.remote && inst.ref.valid()) node_->local_finished(inst.ref.slot());
}

void graph_run::set_node(node_role role) { node_ = std::move(role); }

void graph_run::remote_finished(std::uint32_t slot) {
  {
    std::lock_guard guard(events_mutex_);
    news_.finished.push_back(slot);
  }
  wake();
}

void graph_run::remote_stop(bool force, std::optional<std::chrono::nanoseconds> timeout) {
  {
    std::lock_guard guard(events_mutex_);
    news_.stop = news_.stop.value_or(false) || force;
    if (timeout) news_.stop_timeout = timeout;
  }
  wake();
}

void graph_run::link_failed(const std::string& why) {
  {
    std::lock_guard guard(events_mutex_);
    if (news_.failure.empty()) news_.failure = why;
  }
  wake();
}

void graph_run::node_failed(const std::string& why) {
  {
    std::lock_guard guard(events_mutex_);
    if (news_.failure.empty()) news_.failure = why;
    news_.failed_elsewhere = true;
  }
  wake();
}

void graph_run::take_node_news() {
  node_news news;
  {
    std::lock_guard guard(events_mutex_);
    std::swap(news, news_);
  }
  for (std::uint32_t slot : news.finished) {
    for (auto& inst : instances_) {
      if (inst.remote && inst.ref.valid() && inst.ref.slot() == slot) inst.finished = true;
    }
  }
  if (!news.finished.empty()) end_of_stream();
  if (news.stop) {
    stopped_by_user_ = true;
    // An ordered stop that reaches a node already stopping (each node got
    // the launcher's SIGUSR1, and each tells the others) is the same stop.
    if (*news.stop) {
      print(0, "procactor", "stopping now (asked by another node)", true);
      force_stop();
    } else {
      if (!stopping_) print(0, "procactor", "another node stops the graph", true);
      stop_within(news.stop_timeout.value_or(graph_.shutdown_timeout), false);
    }
  }
  // Another node fails: it ends the job, and its own last status says why.
  if (news.failed_elsewhere) job_ended_ = true;
  if (!news.failure.empty() && failure_.empty()) fail_now(news.failure);
}

// The other nodes are out of reach, or the job is ending: nothing more
// comes from them, so what runs there is over for this node, and what runs
// here stops now.
void graph_run::fail_now(const std::string& why, bool tell_nodes) {
  if (failure_.empty()) failure_ = why;
  if (node_ && tell_nodes) node_->broadcast(std::string(node_fail_prefix) + "node " + node_->name + ": " + why);
  print(0, "procactor", "stopping now: " + failure_, true);
  for (auto& inst : instances_) {
    if (inst.remote) inst.finished = true;
  }
  force_stop();
}

// A run directory removed while the run goes on (its state directory
// deleted, `rm -rf STATE`): no command can reach the run any more, neither
// to see it nor to stop it, so it stops itself, in order, saying why.
void graph_run::check_run_dir() {
  const auto now = steady::now();
  if (run_dir_gone_ || stopping_ || now < next_run_dir_check_) return;
  next_run_dir_check_ = now + std::chrono::seconds(1);
  struct stat info {};
  if (::stat((run_.dir / "control.sock").c_str(), &info) == 0 || errno != ENOENT) return;
  run_dir_gone_ = true;
  print(0, "procactor",
        "its run directory " + run_.dir.string() +
            " was removed: `procactor status` and `stop` cannot reach the run any more; stopping the graph",
        true);
  begin_stop(graph_.shutdown_timeout);
}

void graph_run::record_event(std::string kind, std::string actor, int pid, std::string detail) {
  const bool actors = !actor.empty();
  const std::string line =
      event_json({wall_clock::now(), std::move(kind), std::move(actor), pid, std::move(detail), {}});
  event_log_.plain(line);
  // On a node of a multi-node run, an actor's event goes to the launching
  // host's log of the run too (its own, ready and finished, the launching
  // host records for the whole run).
  if (node_ && actors) relay(relay::event_frame(node_->index, line));
}

// The runtime's monitor thread reports exits, restarts and restarted
// starts, and prints the actors' output: an event's line printed there,
// as it is reported, comes in order with the lines the actors printed
// before and after it (queued for the run loop, it came late). A first
// start is reported by the thread that spawns.
void graph_run::tell(Runtime& rt, const ActorEvent& event) {
  std::lock_guard guard(report_mutex_);
  // What the runtime reports once the run loop is done (shutting down) is
  // nobody's news, and the Runtime is going.
  if (ended_) return;
  if (event.kind == ActorEvent::Kind::exited) report_ready(rt);
  // A group of the file's is named as the launch's lines name it ("[supervisor]",
  // "group 'inner'"), the limit in the file's units: its give-up is
  // recorded where it is said (gave_up), a restart of it here.
  const GroupSpec* group = graph_.find_group(event.name);
  if (group != nullptr && event.kind == ActorEvent::Kind::gave_up) return;
  std::string detail = event.detail;
  if (const GroupSpec* parent = group != nullptr ? graph_.find_group(group->parent) : nullptr;
      parent != nullptr && event.kind == ActorEvent::Kind::restarting) {
    detail = graph_.describe_group(*group) + " gave up; " + graph_.describe_group(*parent) + " (" +
             std::string(to_string(parent->options.strategy)) + ") restarts it";
  }
  record_event(kind_name(event.kind), event.name, event.pid,
               event.culprit.empty() ? detail : detail + " (after " + event.culprit + ")");
  std::optional<std::size_t> actor;  // the instance's, into graph.actors
  {
    std::lock_guard refs(refs_mutex_);  // a scale-up may be adding instances
    if (auto it = by_name_.find(event.name); it != by_name_.end()) actor = instances_[it->second].actor;
  }
  // A group that gave up, restarted whole by its parent, is said by the run
  // loop (handle), after the line of its give-up, which it says too.
  if (!actor) return;
  switch (event.kind) {
    case ActorEvent::Kind::started:
      print(*actor, "procactor", event.name + " started (pid " + std::to_string(event.pid) + ")", true);
      return;
    case ActorEvent::Kind::restarting:
      print(*actor, "procactor", event.name + " restarting: " + event.detail, true);
      return;
    case ActorEvent::Kind::exited:
      print(*actor, "procactor", event.name + " exited (" + event.detail + ")", true);
      return;
    case ActorEvent::Kind::gave_up: return;  // the run loop says what it means (gave_up)
  }
}

void graph_run::handle(Runtime& rt, const ActorEvent& event) {
  if (event.kind == ActorEvent::Kind::gave_up) {
    gave_up(rt, event);
    return;
  }
  if (event.kind == ActorEvent::Kind::restarting) {
    // A group that gave up, restarted whole by its parent.
    const GroupSpec* group = graph_.find_group(event.name);
    const GroupSpec* parent = group != nullptr ? graph_.find_group(group->parent) : nullptr;
    if (parent != nullptr) {
      print(0, "procactor",
            graph_.describe_group(*group) + " gave up; " + graph_.describe_group(*parent) + " (" +
                std::string(to_string(parent->options.strategy)) + ") restarts it (after " + event.culprit + ")",
            true);
    }
    return;
  }
  if (event.kind != ActorEvent::Kind::exited) return;
  if (auto it = by_name_.find(event.name); it != by_name_.end()) settle(rt, instances_[it->second]);
}

// An instance whose actor is gone for good has finished, which may end the
// input of the actors downstream of it.
void graph_run::settle(Runtime& rt, instance& inst) {
  if (inst.finished || !inst.ref.valid()) return;
  const ActorInfo info = rt.info(inst.ref);
  {
    std::lock_guard guard(report_mutex_);
    observe(inst, info);
  }
  if (!is_terminal(info.state)) return;
  mark_finished(inst);
  end_of_stream();
}

// A group exceeded its intensity. The runtime has stopped its actors; a
// group under the root fails as one child of its parent, which restarts it
// or gives up in turn (another event). The root giving up ends the run.
void graph_run::gave_up(Runtime& rt, const ActorEvent& event) {
  const GroupSpec* group = graph_.find_group(event.name);
  if (group == nullptr) {  // not one of the file's: say what the runtime says
    print(0, "procactor", "group " + event.name + " gave up: " + event.detail, true);
    return;
  }
  // What took it over the limit: the culprit itself when it is a member, or
  // the member group on the culprit's way up, which gave up before.
  std::string how;
  std::string last = event.culprit;
  const GroupSpec* culprit_group = nullptr;
  if (auto it = by_name_.find(event.culprit); it != by_name_.end()) {
    const instance& culprit = instances_[it->second];
    if (culprit.ref.valid()) how = rt.info(culprit.ref).last_exit;
    if (!how.empty()) last += " (" + how + ")";
    culprit_group = graph_.find_group(graph_.actors[culprit.actor].group);
  }
  for (const GroupSpec* child = culprit_group; child != nullptr && !child->is_root() && child != group;
       child = graph_.find_group(child->parent)) {
    if (child->parent == group->name) {
      last = graph_.describe_group(*child) + " giving up";
      break;
    }
  }
  const int most = group->options.max_restarts;
  const std::string limit =
      "more than " + std::to_string(most) + (most == 1 ? " restart" : " restarts") + " within " +
      graph_.duration_text(group->is_root() ? "supervisor.within" : "groups." + group->name + ".within",
                           group->options.within);
  const std::string said =
      graph_.describe_group(*group) + " gave up: " + limit + (last.empty() ? "" : "; the last was " + last);
  print(0, "procactor", said, true);
  if (!ended_) record_event("gave_up", group->name, 0, said);
  gave_up_[group->name] = {event.culprit, limit};
  if (!group->is_root()) return;

  // The root: supervision has ended and the runtime stops every actor, last
  // started first. The report names the groups that gave up on the way
  // from the culprit's group, and the actor whose exit did it.
  failure_ = "[supervisor] gave up (" + limit + ")";
  std::vector<std::string> chain;
  for (const GroupSpec* on_path = culprit_group; on_path != nullptr && !on_path->is_root();
       on_path = graph_.find_group(on_path->parent)) {
    const auto told = gave_up_.find(on_path->name);
    if (told != gave_up_.end() && told->second.first == event.culprit) {
      chain.push_back(graph_.describe_group(*on_path) + " (" + told->second.second + ")");
    }
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    failure_ += (it == chain.rbegin() ? " when " : " after ") + *it + " gave up";
  }
  if (!event.culprit.empty()) {
    failure_ += "; the last exit was " + event.culprit + (how.empty() ? "" : "'s (" + how + ")");
  }
  print(0, "procactor", "stopping the graph: " + failure_, true);
  // The run cannot go on without this node's actors: every node stops now.
  if (node_) node_->broadcast("force");
  if (!stopping_) {
    stopping_ = true;
    {
      std::lock_guard guard(report_mutex_);
      ready_moot_ = true;
    }
    force_at_ = steady::now() + graph_.shutdown_timeout;
    force_after_ = graph_.shutdown_timeout;
  }
}

void graph_run::end_of_stream() {
  for (std::size_t a = 0; a < graph_.actors.size(); ++a) {
    const auto upstream = upstream_of(a);
    if (upstream.empty()) continue;
    bool all_done = true;
    for (const auto& inst : instances_) {
      for (std::size_t u : upstream) {
        if (inst.actor == u && !inst.finished) all_done = false;
      }
    }
    if (!all_done) continue;
    for (const auto& inst : instances_) {
      if (inst.actor == a && !inst.finished && !inst.remote && inst.ref.valid()) inst.ref.close();
    }
  }
  // Every actor that a route leads into has finished (and one has), but
  // actors that no route leads into still run: they count as sources (an
  // actor asked by name, or driven by its timers, gets no end of stream),
  // so they alone keep the run going. Said once, not to leave it a riddle.
  if (told_inputless_ || stopping_ || (node_ && node_->index != 0)) return;
  bool one_ended = false;
  std::vector<std::string> left;
  for (const auto& inst : instances_) {
    const bool source = upstream_of(inst.actor).empty();
    if (!source && !inst.finished) return;
    if (inst.finished) one_ended = true;
    if (source && !inst.finished) left.push_back(inst.name);
  }
  if (!one_ended || left.empty()) return;
  told_inputless_ = true;
  std::string names;
  for (std::size_t i = 0; i < left.size() && i < 4; ++i) names += (i == 0 ? "" : ", ") + left[i];
  if (left.size() > 4) names += " and " + std::to_string(left.size() - 4) + " more";
  print(0, "procactor",
        "every actor that a route leads into has finished; " + names +
            (left.size() == 1 ? ", which no route leads into, runs on" : ", which no route leads into, run on") +
            ": the run ends when " + (left.size() == 1 ? "it returns" : "they return") +
            ", or when the graph is stopped (Ctrl-C, procactor stop)",
        true);
}

// Stop in order: close the sources; the end of stream does the rest. On a
// node, every node closes its own, told by the one that began.
void graph_run::begin_stop(std::chrono::nanoseconds timeout, bool tell_nodes) {
  if (stopping_) return;
  stopping_ = true;
  {
    // Before any source is closed: the exits the stop brings say no "ready".
    std::lock_guard guard(report_mutex_);
    ready_moot_ = true;
  }
  force_at_ = steady::now() + timeout;
  force_after_ = timeout;
  if (tell_nodes) tell_nodes_stop(timeout);
  for (const auto& inst : instances_) {
    if (upstream_of(inst.actor).empty() && !inst.finished && !inst.remote && inst.ref.valid()) inst.ref.close();
  }
}

// An ordered stop, or a shorter deadline for the one under way (a second,
// shorter stop wins, on every node).
void graph_run::stop_within(std::chrono::nanoseconds timeout, bool tell_nodes) {
  if (!stopping_) {
    begin_stop(timeout, tell_nodes);
    return;
  }
  if (force_at_ && steady::now() + timeout >= *force_at_) return;
  force_at_ = steady::now() + timeout;
  force_after_ = timeout;
  if (tell_nodes) tell_nodes_stop(timeout);
}

// The other nodes stop in order too, within `timeout` (node.cpp reads it).
void graph_run::tell_nodes_stop(std::chrono::nanoseconds timeout) {
  if (node_) node_->broadcast("stop " + std::to_string(timeout.count()));
}

void graph_run::force_stop(bool tell_nodes) {
  if (node_ && tell_nodes) node_->broadcast("force");
  for (const auto& inst : instances_) {
    if (!inst.finished && !inst.remote && inst.ref.valid()) inst.ref.kill();
  }
}

int graph_run::run(Runtime& rt) {
  rt.capture_output([this](const OutputLine& line) {
    std::size_t actor = 0;
    std::shared_ptr<log_writer> log;
    {
      std::lock_guard guard(refs_mutex_);  // a scale-up may be adding instances
      auto it = by_name_.find(line.name);
      if (it == by_name_.end()) return;
      actor = instances_[it->second].actor;
      log = logs_[it->second];
      if (!log) {
        log = std::make_shared<log_writer>(log_path(it->second), log_rotate_bytes());
        // A line that comes after its instance finished opens the file for
        // itself alone: nothing is left open for an instance that is gone.
        if (!instances_[it->second].finished) logs_[it->second] = log;
      }
    }
    print(actor, line.name, line.text, false);
    log->stamped(line.text);
  });
  rt.on_event([this, &rt](const ActorEvent& event) {
    tell(rt, event);
    {
      std::lock_guard guard(events_mutex_);
      events_.push_back(event);
    }
    wake();
  });
  const auto started = steady::now();
  {
    std::lock_guard guard(report_mutex_);
    started_ = started;
  }
  // Before the first spawn: `status` answers while a large graph starts.
  std::optional<ControlServer> server;
  try {
    server.emplace(run_.dir / "control.sock",
                   [this, &rt](const ControlRequest& request) { return control(rt, request); });
  } catch (const std::exception& e) {
    return failed_to_start(e.what());  // before any actor: the run never started
  }
  const bool spawned = spawn_all(rt);
  if (spawned) tell_foreground_ready();
  bool ready_reported = false;
  for (;;) {
    // Every instance has run (or finished, which it could only do by
    // running): report it once, before a stop can get in between (or learn
    // that an exit's line has reported it).
    if (!ready_reported && spawned && !stopping_) {
      std::lock_guard guard(report_mutex_);
      ready_reported = report_ready(rt);
    }
    // Signals arrive through the self-pipe; events and stop requests through
    // the queue, which wakes the loop through wake_fd_: an actor's exit is
    // handled as it happens (the end of stream moves down a pipeline
    // without a timer per stage). Timers remain for what no event announces:
    // readiness (an actor moves itself to running), the forced stop, and
    // actors settled once supervision has ended.
    int timeout_ms = 1000;
    if (!ready_reported && spawned && !stopping_) timeout_ms = 2;
    if (!failure_.empty()) timeout_ms = 20;
    if (force_at_) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*force_at_ - steady::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, timeout_ms));
    }
    pollfd fds[2] = {{stop_signal_fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    (void)::poll(fds, 2, timeout_ms);
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    if ((fds[0].revents & POLLIN) != 0) {
      char sig = 0;
      (void)!::read(stop_signal_fd(), &sig, 1);
      stopped_by_user_ = true;
      if (sig == SIGPIPE) {
        // Whoever read the output is gone: the run stops in order, once
        // (its lines go on into run.log).
        if (!stopping_) {
          print(0, "procactor", "standard output was closed (a broken pipe): stopping the graph", true);
          begin_stop(graph_.shutdown_timeout);
        }
        sig = 0;
      }
      // On a node, mpirun passes on SIGUSR1 (the launcher's first Ctrl-C)
      // and SIGUSR2 (its second). Every node gets SIGUSR1, and may hear
      // another node's "stop" first: SIGUSR1 while stopping is that same
      // ordered stop, never a reason to force it.
      if (node_ && sig == SIGTERM) {
        // The launcher never sends a node SIGTERM: this is mpirun or srun
        // ending the job (a node died, or the launcher asked it to), and
        // SIGKILL follows: record the exit code first.
        record_exit(run_, exit_failure);
        job_ended_ = true;
        fail_now("the MPI job was ended (SIGTERM from mpirun or srun): another node failed, or the run was stopped",
                 true);
      } else if (sig == 0 || (sig == SIGUSR1 && stopping_)) {
        // Already stopping in order.
      } else if (stopping_ || sig == SIGUSR2) {
        print(0, "procactor", "stopping now", true);
        force_stop(true);
      } else {
        print(0, "procactor", std::string(sig == SIGINT ? "interrupted" : sig == SIGUSR1 ? "stop requested" : "terminated") +
                                  ": stopping the graph (again to force)", true);
        begin_stop(graph_.shutdown_timeout);
      }
    }
    check_run_dir();
    std::deque<ActorEvent> events;
    std::deque<std::chrono::nanoseconds> stops;
    std::deque<scale_request> scales;
    {
      std::lock_guard guard(events_mutex_);
      events.swap(events_);
      stops.swap(stop_requests_);
      scales.swap(scale_requests_);
    }
    for (const auto& event : events) handle(rt, event);
    for (auto& request : scales) request.answer.set_value(scale(rt, request.actor, request.replicas));
    if (node_) take_node_news();
    for (const auto& timeout : stops) {
      stopped_by_user_ = true;
      print(0, "procactor", "stop requested: stopping the graph", true);
      stop_within(timeout);
    }
    if (force_at_ && steady::now() >= *force_at_) {
      // The graph's shutdown_timeout, or a shorter one a stop asked for
      // (`procactor stop --timeout`, another node's).
      print(0, "procactor",
            (force_after_ == graph_.shutdown_timeout ? "shutdown_timeout (" + format_duration(force_after_)
                                                      : "the stop's timeout (" + format_duration(force_after_)) +
                ") passed: stopping the rest",
            true);
      force_at_.reset();
      force_stop();
    }
    // Once supervision has ended, the runtime settles actors that were
    // waiting for a restart without an exit to report: look.
    if (!failure_.empty()) {
      for (auto& inst : instances_) settle(rt, inst);
    }
    bool all_finished = true;
    for (const auto& inst : instances_) all_finished = all_finished && inst.finished;
    // The exit that took the root over its limit can be the run's last:
    // its event comes before the give-up's, which says that the run
    // failed and why. The runtime knows already; wait for the event.
    if (all_finished && failure_.empty() && rt.gave_up()) continue;
    if (all_finished) break;
    if (ready_reported) update_progress(rt, started);
  }
  {
    std::lock_guard guard(report_mutex_);
    ended_ = true;
  }
  {
    std::lock_guard guard(events_mutex_);
    loop_ended_ = true;
    for (auto& request : scale_requests_) request.answer.set_value("error: run " + run_.name + " has ended");
    scale_requests_.clear();
  }
  show_progress("");
  // What the runtime said on its way here (messages that became dead
  // letters as an actor ended) comes from its logger's thread: in before
  // the last line, which counts them.
  rt.flush_log();
  write_final_status(rt);
  // An instance on another node counts here what this node's actors made
  // dead letters of it (emits once every target of a route had ended); its
  // own node counts the rest.
  for (const auto& inst : instances_) {
    if (!inst.ref.valid()) continue;
    if (const std::uint64_t lost = rt.info(inst.ref).dead_letters; lost > 0)
      dead_letters_.emplace_back(inst.name, lost);
  }
  // A send that found /dev/shm full lost its message (sends fail, they do
  // not wait for the tmpfs: README, Options::arena_size): the run did not
  // do its work for lack of the machine's shared memory, and says so.
  if (!dead_letters_.empty()) {
    for (const auto& letter : rt.dead_letters()) {
      if (letter.reason.find("/dev/shm is full") != std::string::npos) ++shm_full_letters_;
    }
  }
  return finish(started);
}

// Every instance has finished: the status now is the run's last word, what
// `ls` and `status` of the ended run show.
void graph_run::write_final_status(Runtime& rt) {
  ControlRequest request;
  request.verb = ControlRequest::Verb::status;
  try {
    const std::string status = control(rt, request);
    record_final_status(run_, status);
    // What `inspect` of the ended run shows: the last exits and the dead
    // letters, which the run's last line points to; on a node of a
    // multi-node run, its own run's (RUN-NODE, on its host), which its
    // last line names.
    const std::string inspected = json_text(inspect_json(rt, graph_, run_.name, instance_refs()));
    record_final_inspect(run_, inspected);
    // The launching host of a multi-node run keeps the run's whole table
    // and inspect (the inspect first: the launch may end once it has every
    // node's table), and names on the run's last line why this node
    // failed, when it did of its own accord (not because the job was ended
    // for another node).
    if (node_) {
      relay(relay::inspected_frame(node_->index, inspected));
      auto sent = failure_.empty() || job_ended_ ? nlohmann::ordered_json()
                                                 : nlohmann::ordered_json::parse(status, nullptr, false);
      if (sent.is_object()) sent["failure"] = failure_;
      relay(relay::final_frame(node_->index, sent.is_object() ? json_text(sent) : status));
    }
  } catch (const std::exception& e) {
    print(0, "procactor", std::string("cannot record the final status: ") + e.what(), true);
  }
}

int graph_run::finish(steady::time_point started) {
  const auto seconds = std::chrono::duration<double>(steady::now() - started).count();
  char text[64];
  std::snprintf(text, sizeof text, "%.2f s", seconds);
  int code = exit_ok;
  std::string how;
  if (!failure_.empty()) {
    how = "graph " + graph_.name + " failed after " + text + ": " + failure_;
    code = exit_failure;
  } else {
    // A run whose directory was removed was stopped for that (check_run_dir).
    how = "graph " + graph_.name + (stopped_by_user_ || run_dir_gone_ ? " stopped after " : " finished in ") + text;
  }
  if (run_.name != graph_.name) how += " (run " + run_.name + ")";
  // Messages no handler took: the run did not do all it was given, and
  // says so last, where a user looks.
  if (!dead_letters_.empty()) {
    std::uint64_t total = 0;
    std::string where;
    for (const auto& [name, lost] : dead_letters_) {
      total += lost;
      where += (where.empty() ? "" : ", ") + name + " " + std::to_string(lost);
    }
    how += "; " + std::to_string(total) +
           (total == 1 ? " message became a dead letter (" : " messages became dead letters (") + where +
           "; `procactor inspect " + run_.name + " ACTOR` shows them)";
    if (shm_full_letters_ > 0) {
      how += std::string(shm_full_letters_ < total ? "; at least " : "; ") + std::to_string(shm_full_letters_) +
             " of them because /dev/shm was full (make the tmpfs larger)";
      code = exit_failure;
    }
  }
  // Records that could not be written (a full state directory, said once
  // on stderr as it happened): the run cannot be looked at afterwards as
  // promised, so it does not end as if all were well.
  if (run_dir_gone_) {
    how += "; its run directory " + run_.dir.string() + " was removed during the run";
    code = exit_failure;
  }
  if (records_lost()) {
    how += "; its records in " + run_.dir.string() + " are incomplete (see above)";
    code = exit_failure;
  }
  print(0, "procactor", how, true, line_kind::last);
  record_event("finished", "", 0, how + " (exit code " + std::to_string(code) + ")");
  record_exit(run_, code);
  return records_lost() ? exit_failure : code;
}

int graph_run::failed_to_start(const std::string& why) {
  failure_ = why;
  const int code = finish(steady::now());
  // Its exit could not be recorded (a full state directory, said on
  // stderr): a run that never started leaves no directory that `ls` would
  // show as one that died.
  if (records_lost() && !exit_recorded(run_)) {
    std::error_code ignored;
    std::filesystem::remove_all(run_.dir, ignored);
  }
  return code;
}

}  // namespace procactor::launcher
