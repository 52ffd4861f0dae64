// procactor::Pool and procactor::Worker — run registered functions in other
// processes (the seed's Worker.submit(pow, 2, 3) -> Result), as Python's
// concurrent.futures.ProcessPoolExecutor and multiprocessing.Pool do.
//
//   int power(int base, int exp) { ... }
//   PROCACTOR_FUNCTION(power);
//   procactor::Worker worker(rt);
//   std::cout << worker.submit(power, 2, 3).get();   // 8
//
// C++ cannot ship a closure to another process, so functions are registered
// by name and a task carries the name's id and the arguments. A worker killed
// mid-task is restarted and the task re-run: a pool is never broken for good.
//
// Tasks wait in the pool (in this process) until a worker has room: each
// worker holds at most two, the one it runs and the next, so a free worker
// never waits for the pool and a slow one gets less. submit() returns at once
// while fewer than PoolOptions::max_queued tasks wait; past that it blocks
// until one is handed out (back-pressure). A task still waiting in the pool
// can be cancelled; one handed to a worker counts as started.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
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
// Several calls of one function in one message (imap's chunksize).
inline constexpr type_id chunk_type = fnv1a64("procactor.chunk");
inline constexpr type_id chunk_results_type = fnv1a64("procactor.chunk_results");

struct chunk_request {
  std::uint64_t function = 0;
  std::vector<std::vector<std::byte>> items;  // each item's encoded arguments
  template <class Archive>
  void serialize(Archive& archive) {
    archive(function, items);
  }
};

// How one call of a chunk ended: a value (its reply type and bytes) or an
// error (its code and text).
struct chunk_result {
  std::uint8_t code = 0;
  std::uint64_t type = 0;
  std::vector<std::byte> bytes;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(code, type, bytes);
  }
};

// Whether arguments A... make the values of parameters P... (as a task
// carries them: decayed).
template <class Parameters, class... A>
inline constexpr bool arguments_convert = false;
template <class... P, class... A>
inline constexpr bool arguments_convert<std::tuple<P...>, A...> =
    std::is_constructible_v<std::tuple<std::decay_t<P>...>, A&&...>;

// The arguments of one call, as the worker decodes them: a tuple item is
// spread over the parameters, anything else is the only argument.
template <class R, class... P, class Item>
std::span<const std::byte> encode_call(const Item& item) {
  if constexpr (requires { std::tuple_size<Item>::value; }) {
    static_assert(std::tuple_size_v<Item> == sizeof...(P), "map: an item's tuple does not match the parameters");
    return std::apply(
        [](const auto&... parts) {
          return thread_encoder().encode(std::tuple<std::decay_t<P>...>(parts...));
        },
        item);
  } else {
    static_assert(sizeof...(P) == 1, "map: a function of several parameters takes tuples");
    return thread_encoder().encode(std::tuple<std::decay_t<P>...>(item));
  }
}

}  // namespace detail

// A call of a registered function, encoded: PoolOptions::initializer.
struct Task {
  type_id function = 0;
  std::vector<std::byte> arguments;
};
template <class R, class... P, class... A>
Task task(R (*function)(P...), A&&... arguments) {
  // Each check alone, in a branch of its own: a failed one stops there, so
  // its text is the whole error, not the first line of std::tuple's.
  if constexpr (sizeof...(P) != sizeof...(A)) {
    static_assert(sizeof...(P) == sizeof...(A), "task: wrong number of arguments for the function");
    return {};
  } else if constexpr (!detail::arguments_convert<std::tuple<P...>, A...>) {
    static_assert(detail::arguments_convert<std::tuple<P...>, A...>,
                  "task: an argument does not convert to the type of the function's parameter");
    return {};
  } else {
    std::tuple<std::decay_t<P>...> packed(std::forward<A>(arguments)...);
    auto bytes = detail::thread_encoder().encode(packed);
    return {detail::function_id(reinterpret_cast<std::uintptr_t>(function)), {bytes.begin(), bytes.end()}};
  }
}

// The value of one task, or the error it ended with (Pool::map with
// procactor::collect_errors).
template <class T>
class Result {
 public:
  explicit Result(T value) : outcome_(std::in_place_index<0>, std::move(value)) {}
  explicit Result(error failure) : outcome_(std::in_place_index<1>, std::move(failure)) {}

  [[nodiscard]] bool ok() const noexcept { return outcome_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // The value; throws the error when the task failed.
  const T& value() const {
    if (!ok()) throw std::get<1>(outcome_);
    return std::get<0>(outcome_);
  }
  const T& operator*() const { return value(); }
  // The error; only when !ok().
  [[nodiscard]] const error& failure() const { return std::get<1>(outcome_); }

 private:
  std::variant<T, error> outcome_;
};
template <>
class Result<void> {
 public:
  Result() = default;
  explicit Result(error failure) : failure_(std::move(failure)) {}
  [[nodiscard]] bool ok() const noexcept { return !failure_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const {
    if (failure_) throw *failure_;
  }
  [[nodiscard]] const error& failure() const { return *failure_; }

 private:
  std::optional<error> failure_;
};

// Pool::map(function, items, procactor::collect_errors): every item's Result.
struct collect_errors_t {
  explicit collect_errors_t() = default;
};
inline constexpr collect_errors_t collect_errors{};

struct PoolOptions {
  // Workers are named name.0, name.1, ... in a supervision group `name`.
  // Empty: "worker", "worker-2", "worker-3", ... the first one free, so
  // that a program can make one pool (or Worker) after another.
  std::string name;
  std::size_t mailbox_capacity = 0;
  int poison_limit = 3;  // a task that kills its worker this often fails as poisoned
  bool pin_cpus = false;  // pin worker i to core i mod cores
  // Runs in each worker process as it starts, and again in each process
  // that replaces one (procactor::task(setup, args...)). A worker whose
  // initializer threw fails every task it is given with handler_threw,
  // naming the initializer's error, rather than restart in a loop.
  std::optional<Task> initializer;
  // A worker that has run this many tasks exits and a new process takes its
  // place, at once (as multiprocessing's maxtasksperchild); 0: never.
  std::uint32_t max_tasks_per_child = 0;
  // A task that runs longer fails its future with errc::timeout, and its
  // worker is killed and replaced; the task is not run again. 0: no limit.
  std::chrono::milliseconds stall_timeout{0};
  // Tasks that may wait in the pool for a worker before submit() blocks;
  // 0: 1024 per worker.
  std::size_t max_queued = 0;
};

// The results of Pool::imap / imap_unordered, as they come: an input range
// of R. Dereferencing an item whose call failed throws its error (as
// Python's imap raises at that item); the iteration can go on past it.
template <class R>
class ResultStream;

class Pool {
 public:
  // `workers` processes; 0 means one per core.
  explicit Pool(Runtime& runtime, std::size_t workers = 0, PoolOptions options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  template <class R, class... P, class... A>
  Future<R> submit(R (*function)(P...), A&&... arguments) {
    if constexpr (sizeof...(P) != sizeof...(A)) {
      static_assert(sizeof...(P) == sizeof...(A), "submit: wrong number of arguments for the function");
      return {};
    } else if constexpr (!detail::arguments_convert<std::tuple<P...>, A...>) {
      static_assert(detail::arguments_convert<std::tuple<P...>, A...>,
                    "submit: an argument does not convert to the type of the function's parameter");
      return {};
    } else {
      std::tuple<std::decay_t<P>...> packed(std::forward<A>(arguments)...);
      auto bytes =
          detail::thread_encoder().encode(detail::function_id(reinterpret_cast<std::uintptr_t>(function)), packed);
      return Future<R>(submit_encoded(detail::task_type, bytes));
    }
  }

  // Calls `function` on every item (a tuple item is spread over the
  // parameters) across the pool; the results in the order of `items`, or
  // nothing for a function that returns nothing (there are no results to
  // hold, as there are none for a plain loop of calls). Throws the first
  // failed item's error, once every item has ended.
  template <class R, class... P, class Range>
  std::conditional_t<std::is_void_v<R>, void, std::vector<R>> map(R (*function)(P...), const Range& items) {
    std::vector<Future<R>> futures = submit_all(function, items);
    wait_all(futures);
    if constexpr (std::is_void_v<R>) {
      for (auto& future : futures) future.get();
    } else {
      std::vector<R> results;
      results.reserve(futures.size());
      for (auto& future : futures) results.push_back(future.get());
      return results;
    }
  }
  // As map, but one failed item costs only its own result: every item's
  // value or error, in the order of `items`.
  template <class R, class... P, class Range>
  std::vector<Result<R>> map(R (*function)(P...), const Range& items, collect_errors_t) {
    std::vector<Future<R>> futures = submit_all(function, items);
    std::vector<Result<R>> results;
    results.reserve(futures.size());
    for (auto& future : futures) {
      try {
        if constexpr (std::is_void_v<R>) {
          future.get();
          results.emplace_back();
        } else {
          results.emplace_back(future.get());
        }
      } catch (const error& e) {
        results.emplace_back(e);
      }
    }
    return results;
  }

  // The results as they are ready, in the order of `items` (imap) or in the
  // order they end (imap_unordered). `chunksize` items travel as one task;
  // a worker killed in a chunk runs the whole chunk again. Every chunk is
  // queued before the call returns (submit's back-pressure applies).
  template <class R, class... P, class Range>
  ResultStream<R> imap(R (*function)(P...), const Range& items, std::size_t chunksize = 1) {
    return ResultStream<R>(submit_chunks(function, items, chunksize), true);
  }
  template <class R, class... P, class Range>
  ResultStream<R> imap_unordered(R (*function)(P...), const Range& items, std::size_t chunksize = 1) {
    return ResultStream<R>(submit_chunks(function, items, chunksize), false);
  }

  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }
  [[nodiscard]] const std::vector<ActorRef>& workers() const noexcept { return workers_; }
  // Lets every task submitted finish, then stops the workers (also done by
  // ~Pool). Later submits throw error(errc::closed).
  void close();
  // Tasks submitted and not yet ended, across the pool (waiting in it, or
  // handed to a worker).
  [[nodiscard]] std::size_t in_flight() const;
  // Of those, the ones still waiting in the pool for a worker.
  [[nodiscard]] std::size_t queued() const;

 private:
  struct state;  // the queue and each worker's load, shared with reply callbacks
  std::shared_ptr<detail::pending> submit_encoded(type_id kind, std::span<const std::byte> bytes);

  template <class R, class... P, class Range>
  std::vector<Future<R>> submit_all(R (*function)(P...), const Range& items) {
    const type_id id = detail::function_id(reinterpret_cast<std::uintptr_t>(function));
    std::vector<Future<R>> futures;
    for (const auto& item : items) {
      auto arguments = detail::encode_call<R, P...>(item);
      const auto* id_bytes = reinterpret_cast<const std::byte*>(&id);
      std::vector<std::byte> call(id_bytes, id_bytes + sizeof id);
      call.insert(call.end(), arguments.begin(), arguments.end());
      futures.emplace_back(submit_encoded(detail::task_type, call));
    }
    return futures;
  }

  template <class R, class... P, class Range>
  std::vector<std::pair<std::shared_ptr<detail::pending>, std::size_t>> submit_chunks(R (*function)(P...),
                                                                                        const Range& items,
                                                                                        std::size_t chunksize) {
    static_assert(!std::is_void_v<R>, "imap of a function that returns nothing: use map");
    if (chunksize == 0) chunksize = 1;
    std::vector<std::pair<std::shared_ptr<detail::pending>, std::size_t>> chunks;
    detail::chunk_request request;
    request.function = detail::function_id(reinterpret_cast<std::uintptr_t>(function));
    auto flush = [&] {
      if (request.items.empty()) return;
      detail::encoder local;
      chunks.emplace_back(submit_encoded(detail::chunk_type, local.encode(request)), request.items.size());
      request.items.clear();
    };
    for (const auto& item : items) {
      auto arguments = detail::encode_call<R, P...>(item);
      request.items.emplace_back(arguments.begin(), arguments.end());
      if (request.items.size() == chunksize) flush();
    }
    flush();
    return chunks;
  }

  std::vector<ActorRef> workers_;
  std::shared_ptr<state> state_;
};

// One worker process: a pool of one.
class Worker : public Pool {
 public:
  explicit Worker(Runtime& runtime, PoolOptions options = {}) : Pool(runtime, 1, std::move(options)) {}
};

template <class R>
class ResultStream {
  using chunk = std::pair<std::shared_ptr<detail::pending>, std::size_t>;

 public:
  ResultStream(std::vector<chunk> chunks, bool ordered) : chunks_(std::move(chunks)), ordered_(ordered) {}

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = R;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    explicit iterator(ResultStream* stream) : stream_(stream) {
      if (!stream_->next()) stream_ = nullptr;
    }
    // The item's value; throws its error when its call failed.
    R operator*() const { return stream_->current(); }
    iterator& operator++() {
      if (!stream_->next()) stream_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.stream_ == b.stream_; }

   private:
    ResultStream* stream_ = nullptr;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }
  // How many results the stream holds in all.
  [[nodiscard]] std::size_t size() const {
    std::size_t n = 0;
    for (const auto& c : chunks_) n += c.second;
    return n;
  }

 private:
  // Moves to the next result; false past the last.
  bool next() {
    if (++position_ < results_.size()) return true;
    results_.clear();
    position_ = 0;
    if (taken_ == chunks_.size()) return false;
    std::size_t pick = taken_;  // imap: the next chunk in order
    if (!ordered_) {
      std::vector<detail::pending*> waiting;
      for (std::size_t i = taken_; i < chunks_.size(); ++i) waiting.push_back(chunks_[i].first.get());
      pick = taken_ + detail::wait_any(waiting, detail::clock::time_point::max());
    }
    std::swap(chunks_[taken_], chunks_[pick]);
    chunk& c = chunks_[taken_++];
    try {
      results_ = detail::decode<std::vector<detail::chunk_result>>(detail::await(*c.first));
    } catch (const error& e) {
      // The chunk as a whole failed (its worker poisoned by it, say): each
      // of its items carries that error.
      results_.assign(c.second, detail::chunk_result{static_cast<std::uint8_t>(e.code()), 0, {}});
      for (auto& r : results_) {
        const auto text = std::as_bytes(std::span(e.message()));
        r.bytes.assign(text.begin(), text.end());
      }
    }
    c.first.reset();
    return !results_.empty() || next();
  }

  R current() const {
    const detail::chunk_result& r = results_[position_];
    if (r.code != static_cast<std::uint8_t>(errc::ok)) {
      throw error(static_cast<errc>(r.code),
                  std::string(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size()));
    }
    if (r.type != detail::reply_type_id<R>) {
      throw error(errc::type_mismatch, "an imap result is not the " + std::string(detail::reply_type_name<R>()) +
                                           " the function returns");
    }
    return detail::decode<R>(r.bytes);
  }

  std::vector<chunk> chunks_;
  bool ordered_;
  std::size_t taken_ = 0;
  std::vector<detail::chunk_result> results_;
  std::size_t position_ = 0;
};

}  // namespace procactor

#define PROCACTOR_FUNCTION(fn)                                                          \
  namespace {                                                                           \
  [[maybe_unused]] const bool PROCACTOR_DETAIL_CAT(procactor_function_, __COUNTER__) =  \
      ::procactor::detail::register_function(#fn, reinterpret_cast<std::uintptr_t>(&fn), \
                                             &::procactor::detail::invoke_function<&fn>); \
  }                                                                                     \
  static_assert(true, "")
