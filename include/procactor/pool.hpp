// procactor::Pool and procactor::Worker — run registered functions in other
// processes (the seed's Worker.submit(pow, 2, 3) -> Result).
//
//   int power(int base, int exp) { ... }
//   PROCACTOR_FUNCTION(power);
//   procactor::Worker worker(rt);
//   std::cout << worker.submit(power, 2, 3).get();   // 8
//
// C++ cannot ship a closure to another process, so functions are registered
// by name and a task carries the name's id and the arguments. A worker killed
// mid-task is restarted and the task re-run: a pool is never broken for good.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "actor_ref.hpp"
#include "codec.hpp"
#include "future.hpp"
#include "runtime.hpp"

namespace procactor {

namespace detail {

// Runs a registered function on encoded arguments; returns the encoded
// result and sets `result_type` to its reply type id.
using function_invoker = std::span<const std::byte> (*)(std::span<const std::byte> arguments, type_id& result_type);
bool register_function(std::string_view name, std::uintptr_t address,
                       function_invoker invoker) noexcept;
// The wire id of a registered function, looked up by its address.
type_id function_id(std::uintptr_t address);

template <class F>
struct function_signature;
template <class R, class... P>
struct function_signature<R (*)(P...)> {
  using result = R;
  using arguments = std::tuple<std::decay_t<P>...>;
};

template <auto F>
std::span<const std::byte> invoke_function(std::span<const std::byte> bytes, type_id& result_type) {
  using signature = function_signature<decltype(F)>;
  result_type = reply_type_id<typename signature::result>;
  auto arguments = decode<typename signature::arguments>(bytes);
  if constexpr (std::is_void_v<typename signature::result>) {
    std::apply(F, std::move(arguments));
    return {};
  } else {
    auto result = std::apply(F, std::move(arguments));
    return thread_encoder().encode(result);
  }
}

inline constexpr type_id task_type = fnv1a64("procactor.task");

}  // namespace detail

struct PoolOptions {
  std::string name = "worker";  // workers are named name.0, name.1, ...
  std::size_t mailbox_capacity = 0;
  int poison_limit = 3;  // a task that kills its worker this often fails as poisoned
  bool pin_cpus = false;  // pin worker i to core i mod cores
};

class Pool {
 public:
  // `workers` processes; 0 means one per core.
  explicit Pool(Runtime& runtime, std::size_t workers = 0, PoolOptions options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  template <class R, class... P, class... A>
  Future<R> submit(R (*function)(P...), A&&... arguments) {
    static_assert(sizeof...(P) == sizeof...(A), "submit: wrong number of arguments");
    std::tuple<std::decay_t<P>...> packed(std::forward<A>(arguments)...);
    auto bytes = detail::thread_encoder().encode(
        detail::function_id(reinterpret_cast<std::uintptr_t>(function)), packed);
    return Future<R>(submit_encoded(bytes));
  }

  // Calls `function` on every item (a tuple item is spread over the
  // parameters) across the pool; results in the order of `items`. Tasks are
  // handed out as workers finish (at most two waiting per worker), so a slow
  // or descheduled worker gets less work instead of holding up the end.
  template <class R, class... P, class Range>
  std::vector<R> map(R (*function)(P...), const Range& items) {
    std::vector<Future<R>> futures;
    for (const auto& item : items) {
      wait_for_room();
      if constexpr (requires { std::tuple_size<std::decay_t<decltype(item)>>::value; }) {
        futures.push_back(std::apply(
            [&](const auto&... parts) { return submit(function, parts...); }, item));
      } else {
        futures.push_back(submit(function, item));
      }
    }
    std::vector<R> results;
    results.reserve(futures.size());
    for (auto& future : futures) results.push_back(future.get());
    return results;
  }

  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }
  [[nodiscard]] const std::vector<ActorRef>& workers() const noexcept { return workers_; }
  // Lets the queued tasks finish, then stops the workers (also done by ~Pool).
  void close();
  // Tasks submitted and not yet answered, across the pool.
  [[nodiscard]] std::size_t in_flight() const;

 private:
  struct load;  // tasks in flight per worker, shared with reply callbacks
  std::shared_ptr<detail::pending> submit_encoded(std::span<const std::byte> bytes);
  void wait_for_room();

  std::vector<ActorRef> workers_;
  std::shared_ptr<load> load_;
  std::size_t next_ = 0;
  bool closed_ = false;
};

// One worker process: a pool of one.
class Worker : public Pool {
 public:
  explicit Worker(Runtime& runtime, PoolOptions options = {}) : Pool(runtime, 1, std::move(options)) {}
};

}  // namespace procactor

#define PROCACTOR_FUNCTION(fn)                                                          \
  namespace {                                                                           \
  [[maybe_unused]] const bool PROCACTOR_DETAIL_CAT(procactor_function_, __COUNTER__) =  \
      ::procactor::detail::register_function(#fn, reinterpret_cast<std::uintptr_t>(&fn), \
                                             &::procactor::detail::invoke_function<&fn>); \
  }                                                                                     \
  static_assert(true, "")
