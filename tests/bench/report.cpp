#include "report.hpp"

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

std::optional<double> workload_report::ratio_vs(const std::string& baseline) const {
  for (const auto& figure : baselines) {
    if (figure.key != baseline) continue;
    if (!procactor || !figure.value || *figure.value == 0) return std::nullopt;
    return *procactor / *figure.value;
  }
  return std::nullopt;
}

std::optional<double> workload_report::detail(const std::string& name) const {
  for (const auto& d : details) {
    if (d.key == name) return d.value;
  }
  return std::nullopt;
}

std::optional<bool> workload_report::met(const goal& g) const {
  const std::optional<double> subject = !g.baseline.empty() ? ratio_vs(g.baseline)
                                        : !g.detail.empty()  ? detail(g.detail)
                                                             : procactor;
  if (!subject.has_value()) return std::nullopt;
  const double value = subject.value();
  if (!std::isfinite(value)) return std::nullopt;
  return g.at_least ? value >= g.threshold : value <= g.threshold;
}

machine_info detect_machine() {
  machine_info machine;
  machine.cpus = std::thread::hardware_concurrency();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    machine.cpu_model = line.substr(line.find_first_not_of(" \t", colon + 1));
    break;
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

void write_json(std::ostream& out, const bench_report& report) {
  out << "{\"machine\": {\"cpus\": " << report.machine.cpus
      << ", \"cpu_model\": " << json_string(report.machine.cpu_model)
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
        << ", \"procactor\": " << json_number(w.procactor);
    for (const auto& b : w.baselines) out << ", " << json_string(b.key) << ": " << json_number(b.value);
    for (const auto& b : w.baselines) {
      out << ", " << json_string("ratio_vs_" + b.key) << ": " << json_number(w.ratio_vs(b.key));
    }
    for (const auto& d : w.details) out << ", " << json_string(d.key) << ": " << json_number(d.value);
    out << ", \"goals\": [";
    bool first_goal = true;
    for (const auto& g : w.goals) {
      if (!first_goal) out << ", ";
      first_goal = false;
      const auto met = w.met(g);
      out << "{\"goal\": " << json_string(goal_text(g))
          << ", \"met\": " << (met ? (*met ? "true" : "false") : "null") << "}";
    }
    out << "]}";
  }
  out << "}, \"notes\": [";
  for (std::size_t i = 0; i < report.notes.size(); ++i) {
    out << (i == 0 ? "" : ", ") << json_string(report.notes[i]);
  }
  out << "], \"elapsed_s\": " << json_number(report.elapsed_s) << "}\n";
}

void write_table(std::ostream& out, const bench_report& report) {
  char line[160];
  out << "procactor-bench" << (report.quick ? " --quick" : "") << " on " << report.machine.cpus
      << " CPUs (" << report.machine.cpu_model << "), load average "
      << human(report.machine.load_before, "") << " before, " << human(report.machine.load_after, "")
      << " after\n";
  for (const auto& w : report.workloads) {
    out << '\n' << w.key << " [" << w.unit << ", " << (w.higher_is_better ? "higher" : "lower")
        << " is better]\n";
    std::snprintf(line, sizeof line, "  %-22s %12s %18s\n", "", "figure", "procactor/this");
    out << line;
    std::snprintf(line, sizeof line, "  %-22s %12s\n", "procactor", human(w.procactor, w.unit).c_str());
    out << line;
    for (const auto& b : w.baselines) {
      std::snprintf(line, sizeof line, "  %-22s %12s %18s\n", b.key.c_str(),
                    human(b.value, w.unit).c_str(), human_ratio(w.ratio_vs(b.key)).c_str());
      out << line;
    }
    for (const auto& d : w.details) {
      std::snprintf(line, sizeof line, "  %-22s %12s\n", d.key.c_str(),
                    d.value ? plain_number(*d.value).c_str() : "n/a");
      out << line;
    }
    for (const auto& g : w.goals) {
      const auto met = w.met(g);
      out << "  goal " << goal_text(g) << ": " << (met ? (*met ? "met" : "MISSED") : "n/a") << '\n';
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
