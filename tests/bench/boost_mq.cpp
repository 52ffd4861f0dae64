#include "boost_mq.hpp"

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/permissions.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "one_cpu.hpp"
#include "shm_cleanup.hpp"

namespace procactor_bench {

namespace ipc = boost::interprocess;

namespace {

// `seq` lets the receiver check order and count, so that a fast figure is
// also a correct one.
struct mq_message {
  std::uint64_t seq = 0;
  std::uint64_t payload[7] = {};
};
static_assert(sizeof(mq_message) == boost_mq_message_bytes);

constexpr std::string_view child_flag = "--child";
constexpr std::string_view stream_mode = "boost-mq-stream";
constexpr std::string_view echo_mode = "boost-mq-echo";
constexpr std::string_view send_mode = "boost-mq-send";
constexpr std::string_view forward_mode = "boost-mq-forward";
// Control values of `seq`, far above any real sequence number.
constexpr std::uint64_t ready_seq = ~std::uint64_t{0};
constexpr std::uint64_t end_of_run_seq = ready_seq - 1;
constexpr std::uint64_t quit_seq = ready_seq - 2;

// Generous: a quick stream at Boost's worst measured rate finishes in
// seconds; only a dead or wedged peer gets anywhere near this.
constexpr unsigned watchdog_seconds = 120;
constexpr auto child_start_timeout = std::chrono::seconds(20);
constexpr auto child_exit_timeout = std::chrono::seconds(10);

const char* wait_name(mq_wait wait) { return wait == mq_wait::blocking ? "blocking" : "spin"; }

mq_wait parse_wait(std::string_view text) {
  if (text == "blocking") return mq_wait::blocking;
  if (text == "spin") return mq_wait::spin;
  throw std::invalid_argument("unknown wait mode: " + std::string(text));
}

void put(ipc::message_queue& queue, const mq_message& message, mq_wait wait) {
  if (wait == mq_wait::blocking) {
    queue.send(&message, sizeof message, 0);
    return;
  }
  while (!queue.try_send(&message, sizeof message, 0)) cpu_relax();
}

void get(ipc::message_queue& queue, mq_message& message, mq_wait wait) {
  ipc::message_queue::size_type received = 0;
  unsigned int priority = 0;
  if (wait == mq_wait::blocking) {
    queue.receive(&message, sizeof message, received, priority);
  } else {
    while (!queue.try_receive(&message, sizeof message, received, priority)) cpu_relax();
  }
  if (received != sizeof message) throw std::runtime_error("short message on a Boost queue");
}

// A queue this process created and will remove, whatever way it leaves.
class owned_queue {
 public:
  owned_queue(std::string_view role, std::size_t capacity) : name_(unique_shm_name(role)) {
    track_shm_name(name_);
    try {
      // Boost's default is 0644 (docs/design.md §2 wants 0600 for every segment).
      ipc::permissions owner_only(0600);
      queue_.emplace(ipc::create_only, name_.c_str(), capacity, sizeof(mq_message), owner_only);
    } catch (...) {
      untrack_shm_name(name_);
      throw;
    }
  }
  ~owned_queue() {
    queue_.reset();
    ipc::message_queue::remove(name_.c_str());
    untrack_shm_name(name_);
  }
  owned_queue(const owned_queue&) = delete;
  owned_queue& operator=(const owned_queue&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  ipc::message_queue& queue() { return *queue_; }

 private:
  std::string name_;
  std::optional<ipc::message_queue> queue_;
};

child_process start_child(std::string_view mode, const std::vector<std::string>& mode_args) {
  std::vector<std::string> args{"procactor-bench", std::string(child_flag), std::string(mode)};
  args.insert(args.end(), mode_args.begin(), mode_args.end());
  return child_process::start(self_executable(), args);
}

// Waits for the child's "ready" on `control`. Uses timed receives so that a
// child that failed to start is reported with its exit status instead of
// leaving us blocked; this is outside every timed section.
void await_ready(ipc::message_queue& control, child_process& child) {
  const auto deadline = bench_clock::now() + child_start_timeout;
  mq_message message;
  ipc::message_queue::size_type received = 0;
  unsigned int priority = 0;
  for (;;) {
    const auto poll_until =
        boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(100);
    if (control.timed_receive(&message, sizeof message, received, priority, poll_until)) {
      if (received == sizeof message && message.seq == ready_seq) return;
      throw std::runtime_error("Boost child sent something other than ready");
    }
    if (auto status = child.poll()) {
      throw std::runtime_error("Boost child " + status->describe() + " before it was ready");
    }
    if (bench_clock::now() > deadline) throw std::runtime_error("Boost child never became ready");
  }
}

// The same for `count` children that all say "ready" on one queue: any of
// them dying first is reported.
void await_all_ready(ipc::message_queue& queue, std::vector<child_process>& children) {
  const auto deadline = bench_clock::now() + child_start_timeout;
  mq_message message;
  ipc::message_queue::size_type received = 0;
  unsigned int priority = 0;
  std::size_t ready = 0;
  while (ready < children.size()) {
    const auto poll_until =
        boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(100);
    if (queue.timed_receive(&message, sizeof message, received, priority, poll_until)) {
      if (received != sizeof message || message.seq != ready_seq) {
        throw std::runtime_error("a Boost child sent something other than ready");
      }
      ++ready;
      continue;
    }
    for (auto& child : children) {
      if (auto status = child.poll()) {
        throw std::runtime_error("a Boost child " + status->describe() + " before it was ready");
      }
    }
    if (bench_clock::now() > deadline) throw std::runtime_error("Boost children never became ready");
  }
}

void finish_child(child_process& child) {
  auto status = child.wait_for(child_exit_timeout);
  if (!status) throw std::runtime_error("Boost child did not exit after its last message");
  if (!status->success()) throw std::runtime_error("Boost child " + status->describe());
}

std::uint64_t sum_of_seq(std::uint64_t messages) { return messages * (messages - 1) / 2; }

std::uint64_t parse_count(const char* text) {
  std::size_t used = 0;
  const unsigned long long value = std::stoull(text, &used);
  if (text[used] != '\0') throw std::invalid_argument(std::string("not a count: ") + text);
  return value;
}

// Child: sums the sequence numbers of each run; once it has seen `ends`
// end-of-run markers (one per sender: each sender's marker follows its own
// messages in the queue) it acknowledges with the sum and the count (seq and
// payload[0]), and it exits at the quit marker.
int run_stream_child(const char* data_name, const char* control_name, mq_wait wait, std::uint64_t ends) {
  ipc::message_queue data(ipc::open_only, data_name);
  ipc::message_queue control(ipc::open_only, control_name);
  mq_message message;
  message.seq = ready_seq;
  put(control, message, wait);
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  std::uint64_t ended = 0;
  for (;;) {
    get(data, message, wait);
    if (message.seq == quit_seq) return 0;
    if (message.seq == end_of_run_seq) {
      if (++ended < ends) continue;
      message.seq = sum;
      message.payload[0] = count;
      put(control, message, wait);
      sum = 0;
      count = 0;
      ended = 0;
      continue;
    }
    sum += message.seq;
    ++count;
  }
}

// Child: one of several senders into `data`. Each message on `go` says
// which numbers to send (seq: the first, payload[0]: how many); the run ends
// with an end-of-run marker. It waits for its next order asleep (blocking),
// whatever the data path's wait mode, and exits at the quit marker.
int run_send_child(const char* data_name, const char* go_name, const char* ready_name, mq_wait wait) {
  ipc::message_queue data(ipc::open_only, data_name);
  ipc::message_queue go(ipc::open_only, go_name);
  ipc::message_queue ready(ipc::open_only, ready_name);
  mq_message message;
  message.seq = ready_seq;
  put(ready, message, mq_wait::blocking);
  for (;;) {
    get(go, message, mq_wait::blocking);
    if (message.seq == quit_seq) return 0;
    const std::uint64_t first = message.seq;
    const std::uint64_t count = message.payload[0];
    message.payload[0] = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      message.seq = first + i;
      put(data, message, wait);
    }
    message.seq = end_of_run_seq;
    put(data, message, wait);
  }
}

// Child: a middle stage of the pipeline, every message from `in` to `out`
// (markers included); it exits after passing the quit marker on.
int run_forward_child(const char* in_name, const char* out_name, const char* ready_name, mq_wait wait) {
  ipc::message_queue in(ipc::open_only, in_name);
  ipc::message_queue out(ipc::open_only, out_name);
  ipc::message_queue ready(ipc::open_only, ready_name);
  mq_message message;
  message.seq = ready_seq;
  put(ready, message, mq_wait::blocking);
  for (;;) {
    get(in, message, wait);
    put(out, message, wait);
    if (message.seq == quit_seq) return 0;
  }
}

// Child: echo `count` messages from `ping` back on `pong`.
int run_echo_child(const char* ping_name, const char* pong_name, std::uint64_t count,
                   mq_wait wait) {
  ipc::message_queue ping(ipc::open_only, ping_name);
  ipc::message_queue pong(ipc::open_only, pong_name);
  mq_message message;
  message.seq = ready_seq;
  put(pong, message, wait);
  for (std::uint64_t i = 0; i < count; ++i) {
    get(ping, message, wait);
    put(pong, message, wait);
  }
  return 0;
}

}  // namespace

summary boost_mq_stream_msg_per_s(const stream_params& params, mq_wait wait,
                                  std::size_t capacity) {
  owned_queue data("mq-data", capacity);
  owned_queue control("mq-control", 4);
  auto child = start_child(stream_mode, {data.name(), control.name(), wait_name(wait), "1"});
  scoped_watchdog watchdog(watchdog_seconds, "the Boost message_queue stream");
  await_ready(control.queue(), child);

  auto result = stream_rate(params, [&](std::uint64_t messages) {
    mq_message message;
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < messages; ++i) {
      message.seq = i;
      put(data.queue(), message, wait);
    }
    message.seq = end_of_run_seq;
    put(data.queue(), message, wait);
    get(control.queue(), message, wait);
    const auto stop = bench_clock::now();
    if (message.payload[0] != messages || message.seq != sum_of_seq(messages)) {
      throw std::runtime_error("the Boost child lost or duplicated messages");
    }
    return seconds_between(start, stop);
  });
  mq_message quit;
  quit.seq = quit_seq;
  put(data.queue(), quit, wait);
  finish_child(child);
  return result;
}

summary boost_mq_stream_senders_msg_per_s(const stream_params& params, int senders, mq_wait wait,
                                          std::size_t capacity) {
  if (senders <= 0) throw std::invalid_argument("stream with no senders");
  const auto share = static_cast<std::uint64_t>(senders);
  owned_queue data("mq-data", capacity);
  owned_queue control("mq-control", 4);
  owned_queue go("mq-go", share);
  owned_queue ready("mq-ready", share);
  auto consumer = start_child(stream_mode, {data.name(), control.name(), wait_name(wait), std::to_string(senders)});
  std::vector<child_process> children;
  for (int i = 0; i < senders; ++i) {
    children.push_back(start_child(send_mode, {data.name(), go.name(), ready.name(), wait_name(wait)}));
  }
  scoped_watchdog watchdog(watchdog_seconds, "the Boost message_queue stream from several senders");
  await_ready(control.queue(), consumer);
  await_all_ready(ready.queue(), children);

  auto result = stream_rate(params, [&](std::uint64_t wanted) {
    const std::uint64_t each = std::max<std::uint64_t>(1, wanted / share);
    const std::uint64_t messages = each * share;
    mq_message message;
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < share; ++i) {
      message.seq = i * each;
      message.payload[0] = each;
      put(go.queue(), message, mq_wait::blocking);
    }
    get(control.queue(), message, wait);
    const auto stop = bench_clock::now();
    if (message.payload[0] != messages || message.seq != sum_of_seq(messages)) {
      throw std::runtime_error("the Boost child lost or duplicated messages of several senders");
    }
    // As procactor's: the rate of the messages actually sent.
    return seconds_between(start, stop) * static_cast<double>(wanted) / static_cast<double>(messages);
  });
  mq_message quit;
  quit.seq = quit_seq;
  for (int i = 0; i < senders; ++i) put(go.queue(), quit, mq_wait::blocking);
  for (auto& child : children) finish_child(child);
  put(data.queue(), quit, wait);
  finish_child(consumer);
  return result;
}

summary boost_mq_pipeline_msg_per_s(const stream_params& params, int middles, mq_wait wait,
                                    std::size_t capacity) {
  if (middles < 0) throw std::invalid_argument("a pipeline with fewer than no middle stages");
  // links[0] is fed by this process, links.back() read by the sink.
  std::vector<std::unique_ptr<owned_queue>> links;
  for (int i = 0; i <= middles; ++i) links.push_back(std::make_unique<owned_queue>("mq-link", capacity));
  owned_queue control("mq-control", 4);
  owned_queue ready("mq-ready", static_cast<std::size_t>(middles) + 1);
  auto sink = start_child(stream_mode, {links.back()->name(), control.name(), wait_name(wait), "1"});
  std::vector<child_process> stages;
  for (int i = 0; i < middles; ++i) {
    const auto at = static_cast<std::size_t>(i);
    stages.push_back(start_child(forward_mode, {links[at]->name(), links[at + 1]->name(), ready.name(),
                                                wait_name(wait)}));
  }
  scoped_watchdog watchdog(watchdog_seconds, "the Boost message_queue pipeline");
  await_ready(control.queue(), sink);
  await_all_ready(ready.queue(), stages);

  ipc::message_queue& source = links.front()->queue();
  auto result = stream_rate(params, [&](std::uint64_t messages) {
    mq_message message;
    const auto start = bench_clock::now();
    for (std::uint64_t i = 0; i < messages; ++i) {
      message.seq = i;
      put(source, message, wait);
    }
    message.seq = end_of_run_seq;
    put(source, message, wait);
    get(control.queue(), message, wait);
    const auto stop = bench_clock::now();
    if (message.payload[0] != messages || message.seq != sum_of_seq(messages)) {
      throw std::runtime_error("the Boost pipeline lost or duplicated messages");
    }
    return seconds_between(start, stop);
  });
  mq_message quit;
  quit.seq = quit_seq;
  put(source, quit, wait);
  for (auto& stage : stages) finish_child(stage);
  finish_child(sink);
  return result;
}

summary boost_mq_round_trip_us(const round_trip_params& params, mq_wait wait,
                               std::size_t capacity) {
  if (params.samples <= 0) throw std::invalid_argument("round trip with no samples");
  std::optional<pinned_to_one_cpu> pinned;  // the echo, started below, inherits the pin
  if (params.one_cpu) pinned.emplace();
  owned_queue ping("mq-ping", capacity);
  owned_queue pong("mq-pong", capacity);
  const int total = params.warmups + params.samples;
  auto child = start_child(echo_mode, {ping.name(), pong.name(), std::to_string(total),
                                       wait_name(wait)});
  scoped_watchdog watchdog(watchdog_seconds, "the Boost message_queue round trip");
  await_ready(pong.queue(), child);

  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(params.samples));
  mq_message request;
  mq_message reply;
  for (int i = 0; i < total; ++i) {
    if (params.pause.count() > 0) std::this_thread::sleep_for(params.pause);
    request.seq = static_cast<std::uint64_t>(i);
    const auto start = bench_clock::now();
    put(ping.queue(), request, wait);
    get(pong.queue(), reply, wait);
    const auto stop = bench_clock::now();
    if (reply.seq != request.seq) throw std::runtime_error("Boost child echoed the wrong message");
    if (i >= params.warmups) samples.push_back(microseconds_between(start, stop));
  }
  finish_child(child);
  return summarize(std::move(samples));
}

bool is_boost_mq_child(int argc, char** argv) { return argc >= 2 && argv[1] == child_flag; }

int boost_mq_child_main(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.size() == 6 && args[1] == stream_mode) {
      return run_stream_child(argv[3], argv[4], parse_wait(args[4]), parse_count(argv[6]));
    }
    if (args.size() == 6 && args[1] == send_mode) {
      return run_send_child(argv[3], argv[4], argv[5], parse_wait(args[5]));
    }
    if (args.size() == 6 && args[1] == forward_mode) {
      return run_forward_child(argv[3], argv[4], argv[5], parse_wait(args[5]));
    }
    if (args.size() == 6 && args[1] == echo_mode) {
      return run_echo_child(argv[3], argv[4], parse_count(argv[5]), parse_wait(args[5]));
    }
    std::cerr << "procactor-bench: unknown child mode; expected\n"
              << "  --child " << stream_mode << " DATA CONTROL blocking|spin ENDS\n"
              << "  --child " << send_mode << " DATA GO READY blocking|spin\n"
              << "  --child " << forward_mode << " IN OUT READY blocking|spin\n"
              << "  --child " << echo_mode << " PING PONG COUNT blocking|spin\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "procactor-bench child: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace procactor_bench
