// The actor types of the example graphs, built as a plugin
// (build/lib/libprocactor_examples.so) that `procactor launch` loads.
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <vector>

#include "messages.hpp"
#include "primes.hpp"

namespace examples {

using procactor::ParamKind;

// Hands out [from, to) in chunks, then finishes: its end of stream lets the
// rest of the graph drain and exit.
class RangeSource : public procactor::Actor<RangeSource> {
 public:
  static std::vector<procactor::ParamSpec> parameters() {
    return {{"from", ParamKind::integer}, {"to", ParamKind::integer}, {"chunk", ParamKind::integer, false, 1}};
  }
  void run() override {
    const auto from = params().get<std::int64_t>("from");
    const auto to = params().get<std::int64_t>("to");
    const auto chunk = std::max<std::int64_t>(1, params().get_or<std::int64_t>("chunk", 10'000));
    for (std::int64_t at = from; at < to && !stopping(); at += chunk) emit(Range{at, std::min(to, at + chunk)});
  }
};

class PrimeCounter : public procactor::Actor<PrimeCounter, Range> {
 public:
  void on(const Range& range) { emit(Count{count_primes(range.from, range.to)}); }
};

// Adds up counts; prints the total when its upstream has finished.
class Sum : public procactor::Actor<Sum, Count> {
 public:
  void on(const Count& count) { total_ += count.value; }
  void on_stop() override { std::cout << "total: " << total_ << std::endl; }

 private:
  std::int64_t total_ = 0;
};

// Counts the primes of a range like PrimeCounter, but aborts on every
// crash_every-th message this incarnation sees, before it emits anything:
// the restarted process gets the same message again and nothing is lost.
class CrashyWorker : public procactor::Actor<CrashyWorker, Range> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"crash_every", ParamKind::integer, false, 1}}; }
  void on(const Range& range) {
    if (++seen_ % params().get_or<std::int64_t>("crash_every", 1000) == 0) {
      std::cerr << name() << ": crashing on purpose at message " << seen_ << std::endl;
      std::abort();
    }
    emit(Count{count_primes(range.from, range.to)});
  }

 private:
  std::int64_t seen_ = 0;
};

// Reads a text file and emits each word (lower-cased letters and digits).
class LineSource : public procactor::Actor<LineSource> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"path", ParamKind::string}}; }
  void run() override {
    const auto path = params().get<std::string>("path");
    std::ifstream in(path);
    if (!in) throw procactor::error(procactor::errc::system, "cannot read " + path + ": " + std::strerror(errno));
    std::string line;
    while (!stopping() && std::getline(in, line)) {
      for (const auto& word : split_words(line)) emit(Word{word, 1});
    }
  }
};

class WordCounter : public procactor::Actor<WordCounter, Word> {
 public:
  void on(const Word& word) { counts_[word.word] += word.count; }
  // Its words are its own (key_hash), so its totals are final: pass them on.
  void on_stop() override {
    for (const auto& [word, count] : counts_) emit(Word{word, count});
  }

 private:
  std::map<std::string, std::int64_t> counts_;
};

class TopWords : public procactor::Actor<TopWords, Word> {
 public:
  static std::vector<procactor::ParamSpec> parameters() { return {{"count", ParamKind::integer, false, 0}}; }
  void on(const Word& word) { counts_[word.word] += word.count; }
  void on_stop() override {
    std::vector<std::pair<std::string, std::int64_t>> sorted(counts_.begin(), counts_.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    const auto top = static_cast<std::size_t>(params().get_or<std::int64_t>("count", 10));
    for (std::size_t i = 0; i < std::min(top, sorted.size()); ++i) {
      std::cout << sorted[i].first << ' ' << sorted[i].second << std::endl;
    }
  }

 private:
  std::map<std::string, std::int64_t> counts_;
};

}  // namespace examples

PROCACTOR_ACTOR(examples::RangeSource);
PROCACTOR_ACTOR(examples::PrimeCounter);
PROCACTOR_ACTOR(examples::Sum);
PROCACTOR_ACTOR(examples::CrashyWorker);
PROCACTOR_ACTOR(examples::LineSource);
PROCACTOR_ACTOR(examples::WordCounter);
PROCACTOR_ACTOR(examples::TopWords);
