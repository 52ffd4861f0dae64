// Actor types for the CLI tests, built as a plugin the test graphs load.
//
// Tests that act on a running graph (stop it, kill an actor, Ctrl-C) need a
// graph that is still running when they act, however fast or slow the
// machine: these graphs run until they are stopped. Ticks are paced, so a
// run of them, even a thousand actors wide, leaves the cores to the tests.
//
// The multi-node tests (test_cluster_launch.cpp) add actors whose output
// says whether what crossed the nodes arrived whole and in order: an asker
// and a replier that check every byte of 1 MiB questions and answers, a
// checker of per-sender FIFO under fan-in, and a ticker and a sink that
// count, so that a lost message shows.
#include <procactor/procactor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace clitest {

struct Tick {
  std::int64_t n = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n);
  }
};

// A question and its answer across nodes: `bytes` is pattern(n) (asked)
// or pattern(~n) (answered), so that either side checks every byte.
struct Question {
  std::int64_t n = 0;
  std::string bytes;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n, bytes);
  }
};
struct Answer {
  std::int64_t n = 0;
  std::string bytes;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(n, bytes);
  }
};

// The seq-th message of sender `sender`; its padding (of a length that
// varies with seq) is pattern(seq).
struct Numbered {
  std::int64_t sender = 0;
  std::int64_t seq = 0;
  std::string padding;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(sender, seq, padding);
  }
};

}  // namespace clitest

PROCACTOR_MESSAGE(clitest::Tick);
PROCACTOR_MESSAGE(clitest::Question);
PROCACTOR_MESSAGE(clitest::Answer);
PROCACTOR_MESSAGE(clitest::Numbered);

namespace clitest {

using procactor::ParamKind;

// The actors below that act on their own, step n = 1, 2, 3... one every
// interval_ms (default 10) until they are closed.
std::vector<procactor::ParamSpec> paced_parameters() { return {{"interval_ms", ParamKind::integer, false}}; }
template <class Stopping, class Step>
void paced(const procactor::Params& params, Stopping stopping, Step step) {
  const auto interval = std::chrono::milliseconds(std::max<std::int64_t>(1, params.get_or<std::int64_t>("interval_ms", 10)));
  for (std::int64_t n = 1; !stopping(); ++n) {
    step(n);
    std::this_thread::sleep_for(interval);
  }
}

// Emits Tick 1, 2, 3... one every interval_ms (default 10) until it is
// closed; it never finishes on its own.
class Ticker : public procactor::Actor<Ticker> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return paced_parameters(); }
  void run() override {
    paced(params(), [this] { return stopping(); }, [this](std::int64_t n) { emit(Tick{n}); });
  }
};

// Prints "NAME line 1", "NAME line 2"... one every interval_ms (default
// 10) until it is closed: logs that grow side by side, for `logs`.
class Talker : public procactor::Actor<Talker> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return paced_parameters(); }
  void run() override {
    paced(params(), [this] { return stopping(); },
          [this](std::int64_t n) { std::cout << name() << " line " << n << std::endl; });
  }
};

// Prints its `text` once, as it is, and returns: what an actor writes,
// control characters and all, for the tests of what reaches a terminal.
class Painter : public procactor::Actor<Painter> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"text", ParamKind::string, true}}; }
  void run() override {
    std::cout << params().get<std::string>("text") << std::endl;
    std::cerr << params().get<std::string>("text") << std::endl;  // what `inspect` shows of its exit
  }
};

// Passes every Tick on.
class Relay : public procactor::Actor<Relay, Tick> {
 public:
  void on(const Tick& tick) { emit(tick); }
};

// Counts Ticks; prints the count once its input has ended.
class Tally : public procactor::Actor<Tally, Tick> {
 public:
  void on(const Tick&) { ++total_; }
  void on_stop() override { std::cout << "total: " << total_ << std::endl; }

 private:
  std::int64_t total_ = 0;
};

// Never returns from its first Tick, so its drain cannot end: only a kill
// stops it. It says so first, so that a test knows when it is stuck.
class Stuck : public procactor::Actor<Stuck, Tick> {
 public:
  void on(const Tick& tick) {
    std::cout << "stuck on tick " << tick.n << std::endl;
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
};

// A member of a supervision group: passes every Tick on and says so when
// on_stop runs, so that a test can tell a graceful stop from a kill. With
// crash_on = N it aborts on tick N, every time it gets it (the tick is
// delivered again after each crash, until it becomes a dead letter),
// saying so on stderr first.
class Worker : public procactor::Actor<Worker, Tick> {
 public:
  // garbled = true: the line it writes as it crashes ends in bytes that
  // are not UTF-8, as a program's output may. delay_ms: each tick takes
  // that long, so that what is sent to it waits.
  static std::vector<procactor::ParamSpec> parameters() {
    return {{"crash_on", ParamKind::integer, false},
            {"garbled", ParamKind::boolean, false},
            {"delay_ms", ParamKind::integer, false}};
  }
  void on(const Tick& tick) {
    if (const auto delay = params().get_or<std::int64_t>("delay_ms", 0); delay > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    if (tick.n == params().get_or<std::int64_t>("crash_on", 0)) {
      std::cerr << name() << ": crashing on tick " << tick.n
                << (params().get_or<bool>("garbled", false) ? " \xff\xfe\xc3" : "") << std::endl;
      std::abort();
    }
    emit(tick);
  }
  void on_stop() override { std::cout << name() << ": on_stop ran" << std::endl; }
};

// Bytes that depend on their position and on `n` (no run of them repeats
// within 256 bytes or across two values of n), and the first byte of
// `bytes` that is not pattern(n) (npos when all are).
char pattern_byte(std::int64_t n, std::size_t i) {
  return static_cast<char>((static_cast<std::uint64_t>(n) * 131U + i * 7U + (i >> 8U)) & 0xffU);
}
std::string pattern(std::int64_t n, std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = pattern_byte(n, i);
  return bytes;
}
std::size_t first_wrong(std::int64_t n, const std::string& bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != pattern_byte(n, i)) return i;
  }
  return std::string::npos;
}

// Asks `target`.R (R: its own replica) `count` Questions of `size` bytes
// (default 1 MiB), one at a time, each within timeout_s (default 120),
// checks every byte of every Answer, and says how it went; then returns
// (a source that finishes).
class Asker : public procactor::Actor<Asker> {
 public:
  static std::vector<procactor::ParamSpec> parameters() {
    return {{"target", ParamKind::string, true},        {"count", ParamKind::integer, false},
            {"size", ParamKind::integer, false},        {"timeout_s", ParamKind::integer, false},
            {"interval_ms", ParamKind::integer, false}, {"give_up_after", ParamKind::integer, false}};
  }
  void run() override {
    const std::string target_name = params().get<std::string>("target") + "." + std::to_string(replica());
    const std::int64_t count = params().get_or<std::int64_t>("count", 4);
    const auto size = static_cast<std::size_t>(params().get_or<std::int64_t>("size", std::int64_t{1} << 20));
    const auto timeout = std::chrono::seconds(params().get_or<std::int64_t>("timeout_s", 120));
    const procactor::ActorRef target = find(target_name);
    if (!target.valid()) {
      std::cout << "no actor " << target_name << std::endl;
      return;
    }
    // A pause between questions, and how many failures in a row end the
    // asking (0: none do).
    const auto interval = std::chrono::milliseconds(params().get_or<std::int64_t>("interval_ms", 0));
    const std::int64_t give_up_after = params().get_or<std::int64_t>("give_up_after", 0);
    std::int64_t good = 0;
    std::int64_t failed_in_a_row = 0;
    for (std::int64_t n = 1; n <= count && !stopping() && (give_up_after == 0 || failed_in_a_row < give_up_after);
         ++n) {
      if (n > 1 && interval.count() > 0) std::this_thread::sleep_for(interval);
      try {
        const Answer answer = target.ask<Answer>(Question{n, pattern(n, size)}, timeout).get();
        const std::size_t wrong = first_wrong(~n, answer.bytes);
        if (answer.n != n || answer.bytes.size() != size || wrong != std::string::npos) {
          std::cout << "answer " << n << " is wrong: n " << answer.n << ", " << answer.bytes.size()
                    << " bytes, first wrong byte " << (wrong == std::string::npos ? -1 : static_cast<long>(wrong))
                    << std::endl;
          continue;
        }
        ++good;
        failed_in_a_row = 0;
      } catch (const std::exception& e) {
        ++failed_in_a_row;
        std::cout << "question " << n << " to " << target_name << " failed: " << e.what() << std::endl;
      }
    }
    std::cout << "asked " << target_name << " " << count << " questions of " << size << " bytes: " << good
              << " answers right" << std::endl;
  }
};

// Answers each Question with pattern(~n) of the same size, after checking
// every byte it was asked; says how many it checked when it stops.
class Replier : public procactor::Actor<Replier, Question> {
 public:
  Answer on(const Question& q) {
    if (first_wrong(q.n, q.bytes) == std::string::npos) {
      ++right_;
    } else {
      ++wrong_;
    }
    bytes_ = q.bytes.size();
    return Answer{q.n, pattern(~q.n, q.bytes.size())};
  }
  void on_stop() override {
    std::cout << "questions checked: " << right_ << " right, " << wrong_ << " wrong, of " << bytes_ << " bytes"
              << std::endl;
  }

 private:
  std::int64_t right_ = 0;
  std::int64_t wrong_ = 0;
  std::size_t bytes_ = 0;
};

// Emits Numbered 1..count (default 10000) as sender `replica()`, as fast
// as its route takes them, then returns.
class Numberer : public procactor::Actor<Numberer> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"count", ParamKind::integer, false}}; }
  void run() override {
    const std::int64_t count = params().get_or<std::int64_t>("count", 10000);
    for (std::int64_t seq = 1; seq <= count && !stopping(); ++seq) {
      emit(Numbered{replica(), seq, pattern(seq, static_cast<std::size_t>(seq * 37 % 700))});
    }
  }
};

// Checks that each sender's Numbered arrive 1, 2, 3... with no gap, no
// repeat and no reordering, and their padding intact; prints a summary
// when it stops: "fifo: S senders, M messages, E out of order, last: ..."
// with each sender's last seq in sender order.
class FifoChecker : public procactor::Actor<FifoChecker, Numbered> {
 public:
  void on(const Numbered& m) {
    ++messages_;
    std::int64_t& last = last_[m.sender];
    const bool intact = m.padding.size() == static_cast<std::size_t>(m.seq * 37 % 700) &&
                        first_wrong(m.seq, m.padding) == std::string::npos;
    if (m.seq != last + 1 || !intact) {
      if (++errors_ <= 10) {
        std::cout << "sender " << m.sender << ": seq " << m.seq << " after " << last
                  << (intact ? "" : ", its padding damaged") << std::endl;
      }
    }
    last = std::max(last, m.seq);
  }
  void on_stop() override {
    std::ostringstream line;
    line << "fifo: " << last_.size() << " senders, " << messages_ << " messages, " << errors_ << " out of order, last:";
    for (const auto& [sender, last] : last_) line << ' ' << last;
    std::cout << line.str() << std::endl;
  }

 private:
  std::map<std::int64_t, std::int64_t> last_;
  std::int64_t messages_ = 0;
  std::int64_t errors_ = 0;
};

// A Ticker that says how many ticks it emitted when it stops.
class CountingTicker : public procactor::Actor<CountingTicker> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"interval_ms", ParamKind::integer, false}}; }
  void run() override {
    const auto interval =
        std::chrono::milliseconds(std::max<std::int64_t>(1, params().get_or<std::int64_t>("interval_ms", 10)));
    std::int64_t n = 0;
    while (!stopping()) {
      emit(Tick{++n});
      std::this_thread::sleep_for(interval);
    }
    std::cout << "emitted: " << n << std::endl;
  }
};

// Collects the Ticks it gets; when it stops, says how many distinct ticks
// came, the highest, and how many below it never came (a relay killed
// mid-message may deliver one twice: at least once, counted once).
class TickSet : public procactor::Actor<TickSet, Tick> {
 public:
  void on(const Tick& tick) { seen_.insert(tick.n); }
  void on_stop() override {
    const std::int64_t highest = seen_.empty() ? 0 : *seen_.rbegin();
    std::cout << "ticks: " << seen_.size() << " distinct, highest " << highest << ", missing "
              << (highest - static_cast<std::int64_t>(seen_.size())) << std::endl;
  }

 private:
  std::set<std::int64_t> seen_;
};

// Emits Tick 1..count (default 200) as fast as its route takes them, then
// returns.
class CountTo : public procactor::Actor<CountTo> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"count", ParamKind::integer, false}}; }
  void run() override {
    const std::int64_t count = params().get_or<std::int64_t>("count", 200);
    for (std::int64_t n = 1; n <= count && !stopping(); ++n) emit(Tick{n});
  }
};

// Counts the Ticks it gets and says how many when it stops: "received: N".
// The replica `hold` (default 1) keeps its first Tick in its handler until
// its input has ended (it is closed), so nothing it was sent meanwhile is
// handled: a least_loaded route must see its queue full after two.
class HoldOne : public procactor::Actor<HoldOne, Tick> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"hold", ParamKind::integer, false}}; }
  void on(const Tick&) {
    if (++received_ == 1 && replica() == params().get_or<std::int64_t>("hold", 1)) {
      while (!stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  void on_stop() override { std::cout << "received: " << received_ << std::endl; }

 private:
  std::int64_t received_ = 0;
};

}  // namespace clitest

PROCACTOR_ACTOR(clitest::CountTo);
PROCACTOR_ACTOR(clitest::HoldOne);
PROCACTOR_ACTOR(clitest::Asker);
PROCACTOR_ACTOR(clitest::Replier);
PROCACTOR_ACTOR(clitest::Numberer);
PROCACTOR_ACTOR(clitest::FifoChecker);
PROCACTOR_ACTOR(clitest::CountingTicker);
PROCACTOR_ACTOR(clitest::TickSet);
PROCACTOR_ACTOR(clitest::Ticker);
PROCACTOR_ACTOR(clitest::Talker);
PROCACTOR_ACTOR(clitest::Painter);
PROCACTOR_ACTOR(clitest::Worker);
PROCACTOR_ACTOR(clitest::Relay);
PROCACTOR_ACTOR(clitest::Tally);
PROCACTOR_ACTOR(clitest::Stuck);
