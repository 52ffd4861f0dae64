// The report's arithmetic and its JSON keys, without running anything: the
// medians and ranges over rounds, ratios paired round by round, goals, and
// the keys other tools read (procactor, <baseline>, ratio_vs_<baseline>,
// their _min/_max, rounds, the curves). No timing is asserted anywhere.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "bench_config.hpp"
#include "report.hpp"
#include "timing.hpp"

using namespace procactor_bench;

TEST_CASE("a series summarises the rounds that have a value") {
  const series s(std::vector<std::optional<double>>{3.0, std::nullopt, 1.0, 2.0});
  CHECK(s.per_round());
  CHECK(s.measured() == 3);
  CHECK(*s.median() == doctest::Approx(2.0));
  CHECK(*s.min() == doctest::Approx(1.0));
  CHECK(*s.max() == doctest::Approx(3.0));
  const series even(std::vector<std::optional<double>>{4.0, 1.0, 2.0, 3.0});
  CHECK(*even.median() == doctest::Approx(2.5));
  const series none(std::vector<std::optional<double>>{std::nullopt, std::nullopt});
  CHECK_FALSE(none.median().has_value());
  CHECK_FALSE(none.min().has_value());
  const series constant(7.0);
  CHECK_FALSE(constant.per_round());
  CHECK(*constant.at(5) == doctest::Approx(7.0));
}

TEST_CASE("a ratio is taken round by round, then summarised") {
  // Round 1 is slow for both; the per-round ratio does not see it.
  const series a(std::vector<std::optional<double>>{10.0, 2.0, 4.0});
  const series b(std::vector<std::optional<double>>{20.0, 4.0, std::nullopt});
  const series r = ratio_per_round(a, b);
  REQUIRE(r.rounds.size() == 3);
  CHECK(*r.rounds[0] == doctest::Approx(0.5));
  CHECK(*r.rounds[1] == doctest::Approx(0.5));
  CHECK_FALSE(r.rounds[2].has_value());
  CHECK(*r.median() == doctest::Approx(0.5));
  // A constant pairs with every round.
  const series against_constant = ratio_per_round(a, series(2.0));
  CHECK(against_constant.rounds.size() == 3);
  CHECK(*against_constant.max() == doctest::Approx(5.0));
  CHECK_FALSE(ratio_per_round(a, series(0.0)).median().has_value());
}

workload_report sample_workload() {
  workload_report w{"stream", "msg/s", true, {}, {}, {}, {}, {}, 3};
  w.procactor = series(std::vector<std::optional<double>>{3e6, 2e6, 4e6});
  w.baselines.push_back({"boost_mq_blocking", series(std::vector<std::optional<double>>{1e6, 2e6, 1e6})});
  w.details = {{"limit", 1000.0}, {"p90_ratio", series(std::vector<std::optional<double>>{1.0, 3.0, 1.5})}};
  w.goals = {{"boost_mq_blocking", true, 2.0}, {"", false, 1.8, "p90_ratio"}};
  return w;
}

TEST_CASE("goals are judged on the median, and counted per round") {
  const auto w = sample_workload();
  // Ratios 3, 1, 4: median 3.
  CHECK(*w.ratio_vs("boost_mq_blocking") == doctest::Approx(3.0));
  CHECK(*w.met(w.goals[0]));
  CHECK(w.rounds_met(w.goals[0]) == std::pair{2, 3});
  CHECK(*w.met(w.goals[1]));  // median 1.5 <= 1.8
  CHECK(w.rounds_met(w.goals[1]) == std::pair{2, 3});
  CHECK_FALSE(w.ratio_vs("nobody").has_value());
}

TEST_CASE("the JSON keeps its keys and adds the ranges next to them") {
  bench_report report;
  report.machine.cpus = 2;
  report.machine.cpu_model = "test";
  auto w = sample_workload();
  curve_set curves;
  curves.x_key = "curve_workers";
  curves.x = {1, 2};
  curves.constant_lines.push_back({"curve_linear_speedup", series(std::vector<std::optional<double>>{1.0, 2.0})});
  curves.lines.push_back({"curve_speedup",
                          {series(std::vector<std::optional<double>>{1.0, 0.9}),
                           series(std::vector<std::optional<double>>{1.8, std::nullopt})}});
  w.curves = curves;
  report.workloads.push_back(w);
  std::ostringstream out;
  write_json(out, report);
  const std::string json = out.str();
  for (const char* expected :
       {"\"cpu_model\": \"test\", \"virtual_machine\": false", "\"rounds\": 3", "\"procactor\": 3000000",
        "\"procactor_min\": 2000000", "\"procactor_max\": 4000000",
        "\"boost_mq_blocking\": 1000000", "\"ratio_vs_boost_mq_blocking\": 3, \"ratio_vs_boost_mq_blocking_min\": 1, "
        "\"ratio_vs_boost_mq_blocking_max\": 4",
        "\"limit\": 1000,", "\"p90_ratio\": 1.5, \"p90_ratio_min\": 1, \"p90_ratio_max\": 3",
        "\"curve_workers\": [1, 2]", "\"curve_linear_speedup\": [1, 2]", "\"curve_speedup\": [0.95, 1.8]",
        "\"curve_speedup_min\": [0.9, 1.8]", "\"per_round\": {\"procactor\": [3000000, 2000000, 4000000]",
        "\"ratio_vs_boost_mq_blocking\": [3, 1, 4]", "\"curve_speedup\": [[1, 0.9], [1.8, null]]",
        "{\"goal\": \"ratio_vs_boost_mq_blocking >= 2\", \"met\": true, \"rounds_met\": 2, \"rounds_measured\": 3}"}) {
    INFO(expected);
    CHECK(json.find(expected) != std::string::npos);
  }
  // A constant detail has no range.
  CHECK(json.find("\"limit_min\"") == std::string::npos);
  std::ostringstream table;
  write_table(table, report);
  CHECK(table.str().find("3.00 M (2.00 M - 4.00 M)") != std::string::npos);
  CHECK(table.str().find("3 (1 - 4)") != std::string::npos);
}

TEST_CASE("tails pool the samples of every round") {
  const summary a = summarize({1.0, 2.0, 3.0});
  const summary b = summarize({10.0, 20.0});
  const summary all = pooled({a, b});
  CHECK(all.samples == 5);
  CHECK(all.median == doctest::Approx(3.0));
  CHECK(all.max == doctest::Approx(20.0));
  CHECK(all.p90 == doctest::Approx(20.0));  // nearest rank: ceil(0.9 * 5) = 5th
}

TEST_CASE("the scaling curve goes 1, 2, 4, ... up to the CPUs") {
  CHECK(bench_config::worker_counts(1) == std::vector<unsigned>{1});
  CHECK(bench_config::worker_counts(2) == std::vector<unsigned>{1, 2});
  CHECK(bench_config::worker_counts(6) == std::vector<unsigned>{1, 2, 4, 6});
  CHECK(bench_config::worker_counts(8) == std::vector<unsigned>{1, 2, 4, 8});
}
