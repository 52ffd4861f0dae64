#include "procactor/pool.hpp"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "registry.hpp"

namespace procactor {
namespace detail {

// The actor behind every pool worker: runs a registered function per task.
class worker_actor final : public ActorBase {
 public:
  bool dispatch(const Message& message) override {
    if (message.type() != task_type) return false;
    auto payload = message.payload();
    if (payload.size() < sizeof(type_id)) throw error(errc::decode_failed, "task shorter than its function id");
    type_id id;
    std::memcpy(&id, payload.data(), sizeof id);
    function_invoker invoke = find_function(id);
    if (invoke == nullptr) {
      throw error(errc::unknown_function, "no function with id " + std::to_string(id) + " is registered");
    }
    type_id result_type = 0;
    auto result = invoke(payload.subspan(sizeof id), result_type);
    message.reply_encoded(result, result_type);
    return true;
  }
};

}  // namespace detail

struct Pool::load {
  explicit load(std::size_t workers) : in_flight(new std::atomic<int>[workers]()) {}
  std::unique_ptr<std::atomic<int>[]> in_flight;
  std::mutex mutex;
  std::condition_variable changed;
};

namespace {
// Tasks waiting per worker before map() holds back: one running, one ready
// to start the moment it finishes.
constexpr int map_window = 2;
}  // namespace

Pool::Pool(Runtime& runtime, std::size_t workers, PoolOptions options) {
  if (workers == 0) workers = std::max(1U, std::thread::hardware_concurrency());
  load_ = std::make_shared<load>(workers);
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  // A pool is never broken for good: a dead worker always comes back. Its
  // workers are a group of their own with no intensity limit.
  const Group group = runtime.group(options.name, {Strategy::one_for_one, -1, std::chrono::seconds(60)});
  for (std::size_t i = 0; i < workers; ++i) {
    SpawnOptions spawn;
    spawn.restart = Restart::permanent;
    spawn.group = group;
    spawn.backoff.max = std::chrono::milliseconds(100);
    spawn.mailbox_capacity = options.mailbox_capacity;
    spawn.poison_limit = options.poison_limit;
    spawn.replica = static_cast<int>(i);
    if (options.pin_cpus) spawn.cpu = static_cast<int>(i % cores);
    workers_.push_back(runtime.spawn("procactor.Worker", options.name + "." + std::to_string(i), spawn));
  }
}

Pool::~Pool() { close(); }

void Pool::close() {
  if (closed_) return;
  closed_ = true;
  for (const auto& worker : workers_) worker.close();
  for (const auto& worker : workers_) worker.join();
}

std::size_t Pool::in_flight() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) total += static_cast<std::size_t>(load_->in_flight[i].load());
  return total;
}

void Pool::wait_for_room() {
  std::unique_lock lock(load_->mutex);
  load_->changed.wait(lock, [this] {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (load_->in_flight[i].load() < map_window) return true;
    }
    return false;
  });
}

std::shared_ptr<detail::pending> Pool::submit_encoded(std::span<const std::byte> bytes) {
  if (closed_ || workers_.empty()) throw error(errc::closed, "the pool is closed");
  // The least loaded worker; ties go round, so an idle pool still spreads.
  std::size_t chosen = next_++ % workers_.size();
  for (std::size_t k = 0; k < workers_.size(); ++k) {
    const std::size_t i = (chosen + k) % workers_.size();
    if (load_->in_flight[i].load() < load_->in_flight[chosen].load()) chosen = i;
  }
  load_->in_flight[chosen].fetch_add(1);
  auto on_reply = [load = load_, chosen] {
    load->in_flight[chosen].fetch_sub(1);
    std::lock_guard guard(load->mutex);
    load->changed.notify_all();
  };
  // No deadline of its own: a task waits as long as it takes, across restarts
  // of its worker (flag_retry_on_death keeps actor_died out of its future).
  return detail::ask(workers_[chosen].slot(), {detail::task_type, bytes, detail::flag_retry_on_death, 0},
                     std::chrono::hours(24 * 365), std::move(on_reply));
}

namespace {
// Registered under the public name that Pool spawns and graph files can use.
[[maybe_unused]] const bool worker_registered = detail::register_actor_type(
    "procactor::Worker", []() -> ActorBase* { return new detail::worker_actor(); });
}  // namespace

}  // namespace procactor
