// `procactor-bench --plot FILE.svg`: the primes speedup against the number
// of workers, drawn from this run's own JSON by plot_speedup.py under
// Debian's /usr/bin/python3 (where python3-matplotlib installs; the python3
// first on PATH may be another interpreter without it).
#pragma once

#include <string>

#include "report.hpp"

namespace procactor_bench {

// Empty when a plot can be made: /usr/bin/python3 runs, plot_speedup.py is
// found (next to this binary, else its source path) and matplotlib loads.
// Otherwise what is missing and how to get it. Checked before the run, so
// that minutes of measuring do not end in a missing package.
std::string plot_unavailable();

// Writes `report`'s JSON into a private temporary directory, runs
// plot_speedup.py on it into an SVG there, copies that to `svg`, and
// removes the directory. The script's
// output goes to stderr, so that stdout keeps only the report. Throws
// std::runtime_error saying what failed (the script's stderr says why).
void plot_speedup(const bench_report& report, const std::string& svg);

}  // namespace procactor_bench
