#include "boost_mq.hpp"

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/permissions.hpp>

#include <cstdint>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "child_process.hpp"
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

// Child: sums the sequence numbers of each run; at the end-of-run marker it
// acknowledges with the sum and the count (seq and payload[0]), and it exits
// at the quit marker.
int run_stream_child(const char* data_name, const char* control_name, mq_wait wait) {
  ipc::message_queue data(ipc::open_only, data_name);
  ipc::message_queue control(ipc::open_only, control_name);
  mq_message message;
  message.seq = ready_seq;
  put(control, message, wait);
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  for (;;) {
    get(data, message, wait);
    if (message.seq == quit_seq) return 0;
    if (message.seq == end_of_run_seq) {
      message.seq = sum;
      message.payload[0] = count;
      put(control, message, wait);
      sum = 0;
      count = 0;
      continue;
    }
    sum += message.seq;
    ++count;
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
  auto child = start_child(stream_mode, {data.name(), control.name(), wait_name(wait)});
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

summary boost_mq_round_trip_us(const round_trip_params& params, mq_wait wait,
                               std::size_t capacity) {
  if (params.samples <= 0) throw std::invalid_argument("round trip with no samples");
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
    if (args.size() == 5 && args[1] == stream_mode) {
      return run_stream_child(argv[3], argv[4], parse_wait(args[4]));
    }
    if (args.size() == 6 && args[1] == echo_mode) {
      return run_echo_child(argv[3], argv[4], parse_count(argv[5]), parse_wait(args[5]));
    }
    std::cerr << "procactor-bench: unknown child mode; expected\n"
              << "  --child " << stream_mode << " DATA CONTROL blocking|spin\n"
              << "  --child " << echo_mode << " PING PONG COUNT blocking|spin\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "procactor-bench child: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace procactor_bench
