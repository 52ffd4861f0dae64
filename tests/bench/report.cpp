#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

namespace procactor_bench {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Whole numbers (counts, and rates once rounded) print without an exponent;
// the rest with six significant digits, far more than the noise allows.
std::string plain_number(double value) {
  char text[40];
  if (std::fabs(value) >= 1000 && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.6g", value);
  }
  return text;
}

std::string json_number(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return "null";
  return plain_number(*value);
}

std::string goal_text(const goal& g) {
  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%g", g.threshold);
  const std::string subject = !g.baseline.empty() ? "ratio_vs_" + g.baseline
                              : !g.detail.empty() ? g.detail
                                                  : "procactor";
  return subject + (g.at_least ? " >= " : " <= ") + threshold;
}

// 12345678 msg/s reads better as "12.35 M".
std::string human(std::optional<double> value, const std::string& unit) {
  if (!value || !std::isfinite(*value)) return "n/a";
  char text[40];
  if (unit == "msg/s" && *value >= 1e6) {
    std::snprintf(text, sizeof text, "%.2f M", *value / 1e6);
  } else if (unit == "msg/s" && *value >= 1e3) {
    std::snprintf(text, sizeof text, "%.1f k", *value / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.3g", *value);
  }
  return text;
}

std::string human_ratio(std::optional<double> ratio) {
  if (!ratio || !std::isfinite(*ratio)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", *ratio);
  return text;
}

}  // namespace

std::optional<double> series::median() const {
  std::vector<double> values;
  for (const auto& v : rounds) {
    if (v && std::isfinite(*v)) values.push_back(*v);
  }
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

std::optional<double> series::min() const {
  std::optional<double> low;
  for (const auto& v : rounds) {
    if (v && std::isfinite(*v) && (!low || *v < *low)) low = v;
  }
  return low;
}

std::optional<double> series::max() const {
  std::optional<double> high;
  for (const auto& v : rounds) {
    if (v && std::isfinite(*v) && (!high || *v > *high)) high = v;
  }
  return high;
}

std::size_t series::measured() const {
  return static_cast<std::size_t>(std::count_if(rounds.begin(), rounds.end(), [](const auto& v) {
    return v && std::isfinite(*v);
  }));
}

std::optional<double> series::at(std::size_t i) const {
  if (rounds.size() == 1) return rounds.front();
  return i < rounds.size() ? rounds[i] : std::nullopt;
}

series ratio_per_round(const series& a, const series& b) {
  series ratio;
  const std::size_t n = a.rounds.size() == 1 ? b.rounds.size()
                        : b.rounds.size() == 1 ? a.rounds.size()
                                               : std::min(a.rounds.size(), b.rounds.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto top = a.at(i);
    const auto bottom = b.at(i);
    ratio.add(top && bottom && *bottom != 0 ? std::optional(*top / *bottom) : std::nullopt);
  }
  return ratio;
}

series workload_report::ratio_series(const std::string& baseline) const {
  for (const auto& figure : baselines) {
    if (figure.key == baseline) return ratio_per_round(procactor, figure.value);
  }
  return series(std::nullopt);
}

std::optional<double> workload_report::ratio_vs(const std::string& baseline) const {
  return ratio_series(baseline).median();
}

const series* workload_report::detail(const std::string& name) const {
  for (const auto& d : details) {
    if (d.key == name) return &d.value;
  }
  return nullptr;
}

series workload_report::goal_subject(const goal& g) const {
  if (!g.baseline.empty()) return ratio_series(g.baseline);
  if (!g.detail.empty()) {
    const series* d = detail(g.detail);
    return d != nullptr ? *d : series(std::nullopt);
  }
  return procactor;
}

std::optional<bool> workload_report::met(const goal& g) const {
  const auto value = goal_subject(g).median();
  if (!value) return std::nullopt;
  return g.at_least ? *value >= g.threshold : *value <= g.threshold;
}

std::pair<int, int> workload_report::rounds_met(const goal& g) const {
  int met_in = 0;
  int measured = 0;
  for (const auto& v : goal_subject(g).rounds) {
    if (!v || !std::isfinite(*v)) continue;
    ++measured;
    if (g.at_least ? *v >= g.threshold : *v <= g.threshold) ++met_in;
  }
  return {met_in, measured};
}

machine_info detect_machine() {
  machine_info machine;
  machine.cpus = std::thread::hardware_concurrency();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool flags_seen = false;
  while (std::getline(cpuinfo, line) && (machine.cpu_model.empty() || !flags_seen)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (line.rfind("model name", 0) == 0 && machine.cpu_model.empty()) {
      machine.cpu_model = line.substr(line.find_first_not_of(" \t", colon + 1));
    } else if (line.rfind("flags", 0) == 0 && !flags_seen) {
      flags_seen = true;
      machine.virtual_machine = (line.substr(colon) + ' ').find(" hypervisor ") != std::string::npos;
    }
  }
  if (machine.cpu_model.empty()) machine.cpu_model = "unknown";
  machine.load_before = load_average_1m();
  return machine;
}

std::optional<double> load_average_1m() {
  std::ifstream loadavg("/proc/loadavg");
  double load = 0;
  if (loadavg >> load) return load;
  return std::nullopt;
}

namespace {

std::string json_array(const std::vector<std::optional<double>>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i == 0 ? "" : ", ") + json_number(values[i]);
  return out + "]";
}

// "key": median, and for a figure measured per round "key_min", "key_max".
void json_series(std::ostream& out, const std::string& key, const series& value) {
  out << ", " << json_string(key) << ": " << json_number(value.median());
  if (!value.per_round()) return;
  out << ", " << json_string(key + "_min") << ": " << json_number(value.min()) << ", "
      << json_string(key + "_max") << ": " << json_number(value.max());
}

void json_curves(std::ostream& out, const curve_set& curves) {
  std::vector<std::optional<double>> x(curves.x.begin(), curves.x.end());
  out << ", " << json_string(curves.x_key) << ": " << json_array(x);
  for (const auto& line : curves.constant_lines) out << ", " << json_string(line.key) << ": " << json_array(line.value.rounds);
  for (const auto& line : curves.lines) {
    std::vector<std::optional<double>> median, low, high;
    for (const auto& point : line.points) {
      median.push_back(point.median());
      low.push_back(point.min());
      high.push_back(point.max());
    }
    out << ", " << json_string(line.key) << ": " << json_array(median) << ", " << json_string(line.key + "_min")
        << ": " << json_array(low) << ", " << json_string(line.key + "_max") << ": " << json_array(high);
  }
}

// Every figure of every round, so that a reader can redo the medians and
// see which round a bad ratio came from.
void json_per_round(std::ostream& out, const workload_report& w) {
  out << ", \"per_round\": {\"procactor\": " << json_array(w.procactor.rounds);
  for (const auto& b : w.baselines) {
    if (b.value.per_round()) out << ", " << json_string(b.key) << ": " << json_array(b.value.rounds);
  }
  for (const auto& b : w.baselines) {
    const series ratio = w.ratio_series(b.key);
    if (ratio.per_round()) out << ", " << json_string("ratio_vs_" + b.key) << ": " << json_array(ratio.rounds);
  }
  for (const auto& d : w.details) {
    if (d.value.per_round()) out << ", " << json_string(d.key) << ": " << json_array(d.value.rounds);
  }
  if (w.curves) {
    for (const auto& line : w.curves->lines) {
      out << ", " << json_string(line.key) << ": [";
      for (std::size_t i = 0; i < line.points.size(); ++i) {
        out << (i == 0 ? "" : ", ") << json_array(line.points[i].rounds);
      }
      out << "]";
    }
  }
  out << "}";
}

}  // namespace

void write_json(std::ostream& out, const bench_report& report) {
  out << "{\"machine\": {\"cpus\": " << report.machine.cpus
      << ", \"cpu_model\": " << json_string(report.machine.cpu_model)
      << ", \"virtual_machine\": " << (report.machine.virtual_machine ? "true" : "false")
      << ", \"load_average_before\": " << json_number(report.machine.load_before)
      << ", \"load_average_after\": " << json_number(report.machine.load_after) << "}";
  out << ", \"quick\": " << (report.quick ? "true" : "false");
  out << ", \"workloads\": {";
  bool first_workload = true;
  for (const auto& w : report.workloads) {
    if (!first_workload) out << ", ";
    first_workload = false;
    out << json_string(w.key) << ": {\"unit\": " << json_string(w.unit)
        << ", \"better\": " << json_string(w.higher_is_better ? "higher" : "lower")
        << ", \"rounds\": " << w.rounds;
    json_series(out, "procactor", w.procactor);
    for (const auto& b : w.baselines) json_series(out, b.key, b.value);
    for (const auto& b : w.baselines) json_series(out, "ratio_vs_" + b.key, w.ratio_series(b.key));
    for (const auto& d : w.details) json_series(out, d.key, d.value);
    if (w.curves) json_curves(out, *w.curves);
    json_per_round(out, w);
    out << ", \"goals\": [";
    bool first_goal = true;
    for (const auto& g : w.goals) {
      if (!first_goal) out << ", ";
      first_goal = false;
      const auto met = w.met(g);
      const auto [met_in, measured] = w.rounds_met(g);
      out << "{\"goal\": " << json_string(goal_text(g))
          << ", \"met\": " << (met ? (*met ? "true" : "false") : "null") << ", \"rounds_met\": " << met_in
          << ", \"rounds_measured\": " << measured << "}";
    }
    out << "]}";
  }
  out << "}, \"notes\": [";
  for (std::size_t i = 0; i < report.notes.size(); ++i) {
    out << (i == 0 ? "" : ", ") << json_string(report.notes[i]);
  }
  out << "], \"elapsed_s\": " << json_number(report.elapsed_s) << "}\n";
}

namespace {

// "2.34 M (2.10 M - 2.50 M)": the median, and the range when per round.
std::string human_series(const series& value, const std::string& unit) {
  std::string text = human(value.median(), unit);
  if (value.per_round() && value.median()) {
    text += " (" + human(value.min(), unit) + " - " + human(value.max(), unit) + ")";
  }
  return text;
}

std::string plain_series(const series& value) {
  const auto plain = [](std::optional<double> v) { return v ? plain_number(*v) : std::string("n/a"); };
  std::string text = plain(value.median());
  if (value.per_round() && value.median()) text += " (" + plain(value.min()) + " - " + plain(value.max()) + ")";
  return text;
}

std::string ratio_series_text(const series& ratio) {
  std::string text = human_ratio(ratio.median());
  if (ratio.per_round() && ratio.median()) {
    text += " (" + human_ratio(ratio.min()) + " - " + human_ratio(ratio.max()) + ")";
  }
  return text;
}

void table_row(std::ostream& out, const std::string& name, const std::string& figure,
               const std::string& ratio = {}) {
  char line[200];
  std::snprintf(line, sizeof line, "  %-30s %-30s %s", name.c_str(), figure.c_str(), ratio.c_str());
  std::string text = line;
  while (!text.empty() && text.back() == ' ') text.pop_back();
  out << text << '\n';
}

void table_curves(std::ostream& out, const curve_set& curves, const std::string& unit) {
  out << "  curve (" << curves.x_key << ": median (min - max)):\n";
  for (std::size_t i = 0; i < curves.x.size(); ++i) {
    out << "    " << curves.x_key << ' ' << plain_number(curves.x[i]);
    for (const auto& line : curves.constant_lines) {
      out << "  " << line.key << ' ' << human(line.value.at(i), unit);
    }
    for (const auto& line : curves.lines) {
      out << "  " << line.key << ' ' << human_series(line.points.at(i), unit);
    }
    out << '\n';
  }
}

}  // namespace

void write_table(std::ostream& out, const bench_report& report) {
  char line[160];
  out << "procactor-bench" << (report.quick ? " --quick" : "") << " on " << report.machine.cpus
      << " CPUs (" << report.machine.cpu_model << (report.machine.virtual_machine ? ", a virtual machine" : "")
      << "), load average "
      << human(report.machine.load_before, "") << " before, " << human(report.machine.load_after, "")
      << " after\n";
  for (const auto& w : report.workloads) {
    out << '\n' << w.key << " [" << w.unit << ", " << (w.higher_is_better ? "higher" : "lower")
        << " is better; " << w.rounds << " rounds: median (min - max)]\n";
    table_row(out, "", "figure", "procactor/this");
    table_row(out, "procactor", human_series(w.procactor, w.unit));
    for (const auto& b : w.baselines) {
      table_row(out, b.key, human_series(b.value, w.unit), ratio_series_text(w.ratio_series(b.key)));
    }
    for (const auto& d : w.details) table_row(out, d.key, plain_series(d.value));
    if (w.curves) table_curves(out, *w.curves, w.unit);
    for (const auto& g : w.goals) {
      const auto met = w.met(g);
      const auto [met_in, measured] = w.rounds_met(g);
      out << "  goal " << goal_text(g) << ": " << (met ? (*met ? "met" : "MISSED") : "n/a");
      if (measured > 1) out << " (held in " << met_in << " of " << measured << " rounds)";
      out << '\n';
    }
  }
  if (!report.notes.empty()) {
    out << "\nnotes:\n";
    for (const auto& note : report.notes) out << "  - " << note << '\n';
  }
  std::snprintf(line, sizeof line, "\nfinished in %.1f s\n", report.elapsed_s);
  out << line;
}

}  // namespace procactor_bench
