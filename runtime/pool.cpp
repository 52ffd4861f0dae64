#include "procactor/pool.hpp"

#include <cstring>
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
    message.reply_encoded(invoke(payload.subspan(sizeof id)));
    return true;
  }
};

}  // namespace detail

Pool::Pool(Runtime& runtime, std::size_t workers, PoolOptions options) {
  if (workers == 0) workers = std::max(1U, std::thread::hardware_concurrency());
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < workers; ++i) {
    SpawnOptions spawn;
    // A pool is never broken for good: a dead worker always comes back.
    spawn.restart = Restart::permanent;
    spawn.max_restarts = -1;
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

std::shared_ptr<detail::pending> Pool::submit_encoded(std::span<const std::byte> bytes) {
  if (closed_ || workers_.empty()) throw error(errc::closed, "the pool is closed");
  const ActorRef& worker = workers_[next_++ % workers_.size()];
  // No deadline of its own: a task waits as long as it takes, across restarts
  // of its worker (flag_retry_on_death keeps actor_died out of its future).
  return detail::ask(worker.slot(), {detail::task_type, bytes, detail::flag_retry_on_death, 0},
                     std::chrono::hours(24 * 365));
}

namespace {
// Registered under the public name that Pool spawns and graph files can use.
[[maybe_unused]] const bool worker_registered = detail::register_actor_type(
    "procactor::Worker", []() -> ActorBase* { return new detail::worker_actor(); });
}  // namespace

}  // namespace procactor
