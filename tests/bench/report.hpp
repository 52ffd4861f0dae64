// The benchmark's results and their two renderings: a table for people and
// one JSON object for tools (`--json`).
//
// Every workload runs in rounds: procactor, then each baseline, then
// procactor again, ... so that a burst of load from a neighbour on the
// machine hits both sides of a ratio alike. Each figure is kept per round
// (a `series`); the report gives its median and its range (min, max) over
// the rounds. Every ratio is procactor's figure divided by a baseline's
// figure of the same round, computed round by round and then summarised the
// same way; nothing is compared with a number from another run or machine.
// A figure that could not be measured is empty, prints as "n/a" and as JSON
// null, and so does every ratio and goal that needs it.
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace procactor_bench {

// One figure over the rounds: rounds[i] is round i's value, empty when that
// round could not measure it. A series of one value is a constant (a count,
// a linear speedup): it pairs with every round of another series.
struct series {
  std::vector<std::optional<double>> rounds;

  series() = default;
  // Implicit on purpose: a detail such as {"limit", 3e6} is a constant.
  series(double constant) : rounds{constant} {}
  series(std::optional<double> constant) : rounds{constant} {}
  explicit series(std::vector<std::optional<double>> values) : rounds(std::move(values)) {}

  void add(std::optional<double> value) { rounds.push_back(value); }
  // Over the rounds that have a value; empty when none has.
  [[nodiscard]] std::optional<double> median() const;
  [[nodiscard]] std::optional<double> min() const;
  [[nodiscard]] std::optional<double> max() const;
  [[nodiscard]] std::size_t measured() const;
  // More than one slot: the JSON gives _min and _max next to the median.
  [[nodiscard]] bool per_round() const { return rounds.size() > 1; }
  // The value to pair with round `i` of another series (see above).
  [[nodiscard]] std::optional<double> at(std::size_t i) const;
};

// a / b round by round (a constant pairs with every round); empty where
// either is missing or b is 0.
series ratio_per_round(const series& a, const series& b);

struct named_figure {
  std::string key;  // JSON key, e.g. "boost_mq_blocking"
  series value;
};

// Points for a plot: x[i] against each of `lines`, every point a series over
// the rounds. JSON: "<key>": [medians], "<key>_min": [...], "<key>_max": [...].
struct curve_set {
  std::string x_key;  // "workers"
  std::vector<double> x;
  std::vector<named_figure> constant_lines;  // same for every round (the linear speedup)
  struct line {
    std::string key;                 // "pool_speedup"
    std::vector<series> points;      // one per x
  };
  std::vector<line> lines;
};

// A goal from the issue, stated on one ratio: ratio_vs_<baseline> >= or <=
// threshold. With an empty baseline it is stated on procactor's own figure
// (procactor >= or <= threshold, in the workload's unit), or, when `detail`
// names one of the workload's details, on that detail (procactor's p99, say:
// procactor_p99_ms <= 5). It is judged on the median over the rounds;
// `rounds_met` in the JSON says in how many rounds it held.
struct goal {
  std::string baseline;
  bool at_least = true;
  double threshold = 0;
  std::string detail = {};
};

struct workload_report {
  std::string key;   // "stream", "round_trip_hot", ...
  std::string unit;  // "msg/s", "us", "x"
  bool higher_is_better = true;
  series procactor;
  std::vector<named_figure> baselines;  // each gets ratio_vs_<key>
  std::vector<named_figure> details;    // context (counts, pause, tails), no ratio
  std::vector<goal> goals;
  std::optional<curve_set> curves;      // scaling curves, for a plot
  int rounds = 0;

  // procactor / baseline, round by round.
  [[nodiscard]] series ratio_series(const std::string& baseline) const;
  // Its median; empty when the ratio is missing.
  [[nodiscard]] std::optional<double> ratio_vs(const std::string& baseline) const;
  // The detail named `name`; empty when there is none.
  [[nodiscard]] const series* detail(const std::string& name) const;
  // On the median; empty when the figure is missing.
  [[nodiscard]] std::optional<bool> met(const goal& g) const;
  // Rounds in which the goal held, and rounds that had the figure.
  [[nodiscard]] std::pair<int, int> rounds_met(const goal& g) const;

 private:
  [[nodiscard]] series goal_subject(const goal& g) const;
};

struct machine_info {
  unsigned cpus = 0;
  std::string cpu_model;
  // The CPU flags say `hypervisor`: its CPUs are shared with other guests,
  // which a reader of the figures should know (the plot's title says it).
  bool virtual_machine = false;
  // The 1-minute load average before and after the run: on a shared 2-vCPU
  // machine it says more about a figure's noise than any statistic.
  std::optional<double> load_before;
  std::optional<double> load_after;
};

machine_info detect_machine();
std::optional<double> load_average_1m();

struct bench_report {
  machine_info machine;
  bool quick = false;
  std::vector<workload_report> workloads;
  std::vector<std::string> notes;  // why figures are null, warnings
  double elapsed_s = 0;
};

void write_json(std::ostream& out, const bench_report& report);
void write_table(std::ostream& out, const bench_report& report);

}  // namespace procactor_bench
