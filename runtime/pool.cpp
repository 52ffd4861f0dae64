#include "procactor/pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "actor_host.hpp"
#include "process.hpp"
#include "registry.hpp"

namespace procactor {
namespace detail {

// Where a worker finds its PoolOptions (SpawnOptions::params).
constexpr std::string_view initializer_param_name = "procactor.initializer";
constexpr std::string_view max_tasks_param_name = "procactor.max_tasks_per_child";

namespace {

// Runs one call: its encoded result, or the error it threw.
chunk_result run_call(function_invoker invoke, std::span<const std::byte> arguments) {
  chunk_result result;
  try {
    type_id type = 0;
    auto bytes = invoke(arguments, type);
    result.type = type;
    result.bytes.assign(bytes.begin(), bytes.end());
  } catch (const error& e) {
    result.code = static_cast<std::uint8_t>(e.code());
    const auto text = std::as_bytes(std::span(e.message()));
    result.bytes.assign(text.begin(), text.end());
  } catch (const std::exception& e) {
    result.code = static_cast<std::uint8_t>(errc::handler_threw);
    const std::string what = e.what();
    const auto text = std::as_bytes(std::span(what));
    result.bytes.assign(text.begin(), text.end());
  }
  return result;
}

function_invoker need_function(type_id id) {
  function_invoker invoke = find_function(id);
  if (invoke == nullptr) {
    throw error(errc::unknown_function, "no function with id " + std::to_string(id) + " is registered");
  }
  return invoke;
}
}  // namespace

// The actor behind every pool worker: runs a registered function per task,
// or each call of a chunk.
class worker_actor final : public ActorBase {
 public:
  void on_start() override {
    const std::string initializer = params().get_or<std::string>(std::string(initializer_param_name), "");
    max_tasks_ = static_cast<std::uint64_t>(params().get_or<std::int64_t>(std::string(max_tasks_param_name), 0));
    if (initializer.size() < sizeof(type_id)) return;
    type_id id;
    std::memcpy(&id, initializer.data(), sizeof id);
    const auto arguments = std::as_bytes(std::span(initializer)).subspan(sizeof id);
    try {
      type_id ignored = 0;
      (void)need_function(id)(arguments, ignored);
    } catch (const std::exception& e) {
      initializer_failed_ = std::string("the worker's initializer failed: ") + e.what();
      log_line(name(), initializer_failed_);
    }
  }

  // The default loop, and a worker past max_tasks_per_child ends here: it
  // exits 0 after committing its last task and the pool's permanent restart
  // puts a new process in its place.
  void run() override {
    while (auto message = recv()) {
      actor_host::current()->handle(*this, *message);
      if (max_tasks_ != 0 && ++done_ >= max_tasks_) return;
    }
  }

  bool dispatch(const Message& message) override {
    if (message.type() != task_type && message.type() != chunk_type) return false;
    if (!initializer_failed_.empty()) throw error(errc::handler_threw, initializer_failed_);
    if (message.type() == chunk_type) {
      auto request = decode<chunk_request>(message.payload());
      function_invoker invoke = need_function(request.function);
      std::vector<chunk_result> results;
      results.reserve(request.items.size());
      for (const auto& item : request.items) results.push_back(run_call(invoke, item));
      encoder local;  // not the thread's: each call above used that one
      message.reply_encoded(local.encode(results), chunk_results_type);
      return true;
    }
    auto payload = message.payload();
    if (payload.size() < sizeof(type_id)) throw error(errc::decode_failed, "task shorter than its function id");
    type_id id;
    std::memcpy(&id, payload.data(), sizeof id);
    type_id result_type = 0;
    auto result = need_function(id)(payload.subspan(sizeof id), result_type);
    message.reply_encoded(result, result_type);
    return true;
  }

 private:
  std::string initializer_failed_;
  std::uint64_t max_tasks_ = 0;
  std::uint64_t done_ = 0;
};

}  // namespace detail

namespace {
// Tasks handed to one worker at a time: one running, one ready to start the
// moment it finishes.
constexpr int worker_window = 2;
constexpr std::size_t default_queue_per_worker = 1024;
}  // namespace

struct Pool::state : std::enable_shared_from_this<Pool::state> {
  struct queued {
    type_id kind;
    std::vector<std::byte> bytes;
    std::shared_ptr<detail::pending> future;  // local: ended from the worker's reply
    bool started = false;                     // a worker gone for good had it in hand
  };

  std::vector<detail::slot_id> workers;
  std::vector<std::string> names;    // per worker: NAME.i
  std::unique_ptr<int[]> in_flight;  // per worker, under mutex
  std::vector<bool> gone;            // per worker, under mutex: killed or closed by hand, for good
  std::deque<queued> waiting;
  std::size_t max_queued = 0;
  std::size_t max_message_size = 0;  // Options::max_message_size: a larger task is refused at submit
  std::size_t next = 0;  // where ties start, so an idle pool still spreads
  bool closed = false;
  mutable std::mutex mutex;
  std::condition_variable changed;

  // Whether a worker can still take tasks. Under mutex.
  bool any_left() const { return std::find(gone.begin(), gone.end(), false) != gone.end(); }

  // Why a task fails once every worker has ended for good.
  std::string none_left() const {
    return names.size() == 1 ? "the pool's worker " + names.front() + " has ended for good (killed or closed)"
                             : "every worker of the pool (" + names.front() + " ... " + names.back() +
                                   ") has ended for good (killed or closed)";
  }

  // The least loaded worker with room, or none.
  std::optional<std::size_t> room() const {
    std::optional<std::size_t> best;
    for (std::size_t k = 0; k < workers.size(); ++k) {
      const std::size_t i = (next + k) % workers.size();
      if (gone[i]) continue;
      if (in_flight[i] < worker_window && (!best || in_flight[i] < in_flight[*best])) best = i;
    }
    return best;
  }

  // Hands waiting tasks to workers while they have room. Called with the
  // lock held; sends without it (a send may wait for the lane).
  void dispatch(std::unique_lock<std::mutex>& lock) {
    while (!waiting.empty()) {
      auto worker = room();
      if (!worker) return;
      ++in_flight[*worker];
      next = *worker + 1;
      queued task = std::move(waiting.front());
      waiting.pop_front();
      changed.notify_all();
      lock.unlock();
      send(*worker, std::move(task));
      lock.lock();
    }
  }

  // No deadline of its own: a task waits as long as it takes, across
  // restarts of its worker (flag_retry_on_death keeps actor_died out of
  // it); stall_timeout bounds one run of it.
  void send(std::size_t worker, queued task) {
    std::shared_ptr<detail::pending> asked;
    try {
      asked = detail::ask(workers[worker], {task.kind, task.bytes, detail::flag_retry_on_death, 0},
                          std::chrono::hours(24 * 365), nullptr);
    } catch (const error& e) {
      ended(worker, std::move(task), e.code(), e.message(), nullptr);
      return;
    }
    // Refused as it was sent (the worker had ended for good): the ask is
    // over already, and the task never reached the worker.
    if (detail::is_ready(*asked)) {
      if (const errc code = detail::outcome(*asked);
          code == errc::no_such_actor || code == errc::closed || code == errc::actor_died) {
        ended(worker, std::move(task), code, {}, nullptr);
        return;
      }
    }
    detail::on_done(asked, [self = shared_from_this(), worker, asked, task = std::move(task)]() mutable {
      self->ended(worker, std::move(task), detail::outcome(*asked), {}, asked);
    });
  }

  // A task's ask has ended, or could not be made: the worker's room is
  // free for the next waiting task, and the outcome becomes the caller's
  // future's. A worker the program killed or closed by hand is gone for
  // good: it gets no more tasks, and a task it had goes back to the front
  // of the queue while another worker can take it. Once none can, that
  // task fails with actor_died, and every task still waiting with
  // no_such_actor: none would ever start (and close() would wait for them
  // for ever).
  void ended(std::size_t worker, queued task, errc code, const std::string& why,
             const std::shared_ptr<detail::pending>& asked) {
    std::unique_lock lock(mutex);
    --in_flight[worker];
    // Its worker has ended for good: with this task in hand (the worker's
    // restarts keep actor_died out of the pool's asks), or before it took
    // it. An ask refused as it was sent (`asked` null) never reached it,
    // also one whose wait for room in the worker's lane ended actor_died.
    // (A task it handled before its close ends as it ended.)
    const bool in_hand = code == errc::actor_died && asked != nullptr;
    const bool lost = code == errc::no_such_actor || code == errc::closed || code == errc::actor_died;
    if (in_hand) task.started = true;
    if (lost) gone[worker] = true;
    const bool left = any_left();
    const bool again = lost && left;
    if (again) waiting.push_front(std::move(task));
    std::deque<queued> orphans;
    if (!left) orphans.swap(waiting);
    const std::string none = left ? std::string() : none_left();
    changed.notify_all();
    dispatch(lock);
    lock.unlock();
    for (const queued& orphan : orphans) {
      const std::string text = none + ": the task never started";
      (void)detail::fulfil(*orphan.future, errc::no_such_actor, std::as_bytes(std::span(text)), 0);
    }
    if (again) return;
    if (lost && !task.started) {
      // Refused as it was sent, or still queued in the worker's mailbox as
      // it ended, here and at any worker before: it never started.
      const std::string text = none + ": the task never started";
      (void)detail::fulfil(*task.future, errc::no_such_actor, std::as_bytes(std::span(text)), 0);
      return;
    }
    if (lost) {
      const std::string text =
          none + (in_hand ? "; it had this task" : "; a worker that ended for good before it had this task in hand");
      (void)detail::fulfil(*task.future, errc::actor_died, std::as_bytes(std::span(text)), 0);
      return;
    }
    if (asked) {
      detail::pass_outcome(*asked, *task.future);
    } else {
      (void)detail::fulfil(*task.future, code, std::as_bytes(std::span(why)), 0);
    }
  }
};

Pool::Pool(Runtime& runtime, std::size_t workers, PoolOptions options) {
  if (workers == 0) workers = std::max(1U, std::thread::hardware_concurrency());
  // Told before anything is made: a pool that stopped at the limit half way
  // kept its group and the slots of the workers it had started, for the run.
  if (const std::size_t used = runtime.actors().size(), most = runtime.options().max_actors;
      used + workers > most) {
    throw error(errc::invalid_argument,
                "a pool of " + std::to_string(workers) + (workers == 1 ? " worker" : " workers") +
                    " does not fit: the run has room for " + std::to_string(most > used ? most - used : 0) +
                    " more actors (Options::max_actors = " + std::to_string(most) + ")");
  }
  state_ = std::make_shared<state>();
  state_->in_flight.reset(new int[workers]());
  state_->gone.assign(workers, false);
  state_->max_queued = options.max_queued != 0 ? options.max_queued : default_queue_per_worker * workers;
  state_->max_message_size = runtime.options().max_message_size;
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  // A pool is never broken for good: a dead worker always comes back. Its
  // workers are a group of their own with no intensity limit.
  const GroupOptions unlimited{Strategy::one_for_one, -1, std::chrono::seconds(60)};
  Group group;
  if (!options.name.empty()) {
    group = runtime.group(options.name, unlimited);
  } else {
    // The first default name whose group and first worker name are free: a
    // group outlives its pool, as every name does in a run.
    for (int n = 1;; ++n) {
      options.name = n == 1 ? std::string("worker") : "worker-" + std::to_string(n);
      if (runtime.find(options.name + ".0").valid()) continue;
      try {
        group = runtime.group(options.name, unlimited);
        break;
      } catch (const error& e) {
        if (e.code() != errc::invalid_argument || n >= 1024) throw;
      }
    }
  }
  for (std::size_t i = 0; i < workers; ++i) {
    SpawnOptions spawn;
    spawn.restart = Restart::permanent;
    spawn.group = group;
    spawn.backoff.max = std::chrono::milliseconds(100);
    // A worker retiring after max_tasks_per_child is replaced at once, not
    // after a backoff that grows with every retirement.
    if (options.max_tasks_per_child != 0) spawn.backoff.max = std::chrono::milliseconds(0);
    spawn.mailbox_capacity = options.mailbox_capacity;
    spawn.poison_limit = options.poison_limit;
    spawn.stall_timeout = options.stall_timeout;
    spawn.replica = static_cast<int>(i);
    if (options.pin_cpus) spawn.cpu = static_cast<int>(i % cores);
    if (options.initializer) {
      std::string encoded(sizeof(type_id) + options.initializer->arguments.size(), '\0');
      std::memcpy(encoded.data(), &options.initializer->function, sizeof(type_id));
      if (!options.initializer->arguments.empty()) {
        std::memcpy(encoded.data() + sizeof(type_id), options.initializer->arguments.data(),
                    options.initializer->arguments.size());
      }
      spawn.params.set(std::string(detail::initializer_param_name), std::move(encoded));
    }
    if (options.max_tasks_per_child != 0) {
      spawn.params.set(std::string(detail::max_tasks_param_name), static_cast<std::int64_t>(options.max_tasks_per_child));
    }
    try {
      workers_.push_back(runtime.spawn("procactor.Worker", options.name + "." + std::to_string(i), spawn));
    } catch (...) {
      // No pool, so none of its workers: those started already end (each
      // is closed and handles nothing), then the error goes on.
      for (const auto& worker : workers_) {
        try {
          worker.close();
          (void)worker.join(std::chrono::seconds(60));
        } catch (const error&) {
        }
      }
      throw;
    }
    state_->workers.push_back(workers_.back().slot());
    state_->names.push_back(options.name + "." + std::to_string(i));
  }
}

// A pool that outlives its Runtime has nothing left to close: the
// Runtime's end stopped its workers, and close() would throw (from a
// destructor: std::terminate).
Pool::~Pool() {
  if (detail::process::fork_copy()) {
    // A fork() copy's pool is the original's, whose replies no thread of
    // the copy takes in, and whose lock another thread may have held at
    // the fork: let go of, not closed or destroyed.
    new std::shared_ptr<state>(std::move(state_));  // NOLINT: kept for the copy's life
    return;
  }
  try {
    close();
  } catch (const error&) {
  }
}

void Pool::close() {
  if (detail::process::fork_copy()) throw error(errc::not_supervisor, detail::process::none_reason());
  {
    std::unique_lock lock(state_->mutex);
    if (state_->closed) return;
    state_->closed = true;
    // What was submitted runs to its end first: the replies come in on the
    // reply thread, which hands out the rest of the queue.
    state_->changed.wait(lock, [this] {
      if (!state_->waiting.empty()) return false;
      for (std::size_t i = 0; i < state_->workers.size(); ++i) {
        if (state_->in_flight[i] != 0) return false;
      }
      return true;
    });
  }
  for (const auto& worker : workers_) worker.close();
  for (const auto& worker : workers_) worker.join();
}

std::size_t Pool::in_flight() const {
  std::lock_guard lock(state_->mutex);
  std::size_t total = state_->waiting.size();
  for (std::size_t i = 0; i < state_->workers.size(); ++i) total += static_cast<std::size_t>(state_->in_flight[i]);
  return total;
}

std::size_t Pool::queued() const {
  std::lock_guard lock(state_->mutex);
  return state_->waiting.size();
}

std::shared_ptr<detail::pending> Pool::submit_encoded(type_id kind, std::span<const std::byte> bytes) {
  if (detail::process::fork_copy()) throw error(errc::not_supervisor, detail::process::none_reason());
  auto future = detail::make_local_pending();
  std::unique_lock lock(state_->mutex);
  if (state_->closed || state_->workers.empty()) throw error(errc::closed, "the pool is closed");
  // Told now, in the pool's words: a worker's ask of it would fail the
  // same way, later, as an "ask of worker.N".
  if (bytes.size() > state_->max_message_size) {
    const std::string text =
        "submit failed: the task (its function's id and arguments, encoded; for imap, a chunk "
        "of items) takes " +
        std::to_string(bytes.size()) + " bytes, over the limit of " + std::to_string(state_->max_message_size) +
        " bytes (Options::max_message_size)";
    (void)detail::fulfil(*future, errc::too_large, std::as_bytes(std::span(text)), 0);
    return future;
  }
  // Back-pressure: wait for the queue to have room.
  state_->changed.wait(lock, [this] { return state_->waiting.size() < state_->max_queued || state_->closed; });
  if (state_->closed) throw error(errc::closed, "the pool is closed");
  if (!state_->any_left()) {
    const std::string text = state_->none_left() + ": the task never started";
    (void)detail::fulfil(*future, errc::no_such_actor, std::as_bytes(std::span(text)), 0);
    return future;
  }
  state_->waiting.push_back({kind, {bytes.begin(), bytes.end()}, future});
  // Withdrawn while it waits in the queue; once handed out it has started.
  std::weak_ptr<state> weak = state_;
  detail::pending* key = future.get();
  detail::set_canceller(*future, [weak, key] {
    auto self = weak.lock();
    if (!self) return false;
    std::shared_ptr<detail::pending> withdrawn;
    {
      std::lock_guard guard(self->mutex);
      auto it = std::find_if(self->waiting.begin(), self->waiting.end(),
                             [&](const state::queued& q) { return q.future.get() == key; });
      if (it == self->waiting.end()) return false;
      withdrawn = std::move(it->future);
      self->waiting.erase(it);
      self->changed.notify_all();
    }
    const std::string why = "cancelled before a worker took it";
    return detail::fulfil(*withdrawn, errc::cancelled, std::as_bytes(std::span(why)), 0);
  });
  state_->dispatch(lock);
  return future;
}

namespace {
// Registered under the public name that Pool spawns and graph files can use.
[[maybe_unused]] const bool worker_registered = detail::register_actor_type(
    "procactor::Worker", []() -> ActorBase* { return new detail::worker_actor(); });
}  // namespace

}  // namespace procactor
