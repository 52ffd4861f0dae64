// The benchmark's results and their two renderings: a table for people and
// one JSON object for tools (`--json`).
//
// Every ratio is procactor's figure divided by a baseline's figure measured in
// the same run; nothing is compared with a number from another run or machine.
// A figure that could not be measured is empty, prints as "n/a" and as JSON
// null, and so does every ratio and goal that needs it.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace procactor_bench {

struct named_figure {
  std::string key;  // JSON key, e.g. "boost_mq_blocking"
  std::optional<double> value;
};

// A goal from the issue, stated on one ratio: ratio_vs_<baseline> >= or <=
// threshold. With an empty baseline it is stated on procactor's own figure
// (procactor >= or <= threshold, in the workload's unit), or, when `detail`
// names one of the workload's details, on that detail (procactor's p99, say:
// procactor_p99_ms <= 5).
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
  std::optional<double> procactor;
  std::vector<named_figure> baselines;  // each gets ratio_vs_<key>
  std::vector<named_figure> details;    // context (counts, pause), no ratio
  std::vector<goal> goals;

  [[nodiscard]] std::optional<double> ratio_vs(const std::string& baseline) const;
  // The detail named `name`; empty when there is none or it is missing.
  [[nodiscard]] std::optional<double> detail(const std::string& name) const;
  // Empty when the ratio is missing.
  [[nodiscard]] std::optional<bool> met(const goal& g) const;
};

struct machine_info {
  unsigned cpus = 0;
  std::string cpu_model;
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
