#include "plot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "child_process.hpp"
#include "launcher_workloads.hpp"
#include "python_baseline.hpp"

#ifndef PROCACTOR_BENCH_PLOT_SCRIPT
#error "PROCACTOR_BENCH_PLOT_SCRIPT (the source path of plot_speedup.py) must be defined by the build"
#endif

namespace procactor_bench {

namespace {

namespace fs = std::filesystem;

constexpr const char* script_name = "plot_speedup.py";
constexpr const char* debian_python = "/usr/bin/python3";
constexpr const char* install_hint = "apt-get install python3-matplotlib";
// The script's exit code when matplotlib does not load.
constexpr int no_matplotlib = 3;
// Plotting takes a second or two; matplotlib's first run on a machine builds
// its font cache, which can take tens of seconds. Only a wedged interpreter
// comes near this.
constexpr auto script_timeout = std::chrono::seconds(180);

// Runs `/usr/bin/python3 script args...` with its stdout on our stderr and
// returns its exit code; throws when it cannot be started, hangs or dies of
// a signal.
int run_script(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"python3", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = child_process::start(debian_python, argv, STDERR_FILENO, true);
  const auto status = child.wait_for(script_timeout);
  if (!status) {
    child.kill_and_reap();
    throw std::runtime_error(std::string(script_name) + " did not finish within " +
                             std::to_string(script_timeout.count()) + " s");
  }
  child.reap_group(std::chrono::seconds(2));
  // A status reaped by someone else (the runtime may wait on any child) is
  // taken as success; the caller checks for the file it was to write.
  if (!status->known) return 0;
  if (!WIFEXITED(status->wait_status)) {
    throw std::runtime_error(std::string(script_name) + " " + status->describe());
  }
  return WEXITSTATUS(status->wait_status);
}

}  // namespace

std::string plot_unavailable() {
  if (::access(debian_python, X_OK) != 0) {
    return std::string("--plot needs ") + debian_python + " (Debian's python3) with matplotlib: " + install_hint;
  }
  const std::string script = locate_script(script_name, PROCACTOR_BENCH_PLOT_SCRIPT);
  if (script.empty()) {
    return std::string("--plot needs ") + script_name + ", neither next to this binary nor at " +
           PROCACTOR_BENCH_PLOT_SCRIPT;
  }
  try {
    const int code = run_script(script, {"--check"});
    if (code == no_matplotlib) {
      return std::string("--plot needs matplotlib for ") + debian_python + ": " + install_hint;
    }
    if (code != 0) return script + " --check exited with code " + std::to_string(code);
  } catch (const std::exception& e) {
    return std::string("--plot: ") + e.what();
  }
  return {};
}

void plot_speedup(const bench_report& report, const std::string& svg) {
  const std::string script = locate_script(script_name, PROCACTOR_BENCH_PLOT_SCRIPT);
  if (script.empty()) throw std::runtime_error(std::string(script_name) + " not found");
  const temp_dir dir;
  const fs::path json = dir.path() / "report.json";
  {
    std::ofstream out(json);
    write_json(out, report);
    out.close();
    if (!out) throw std::runtime_error("cannot write " + json.string());
  }
  // Drawn inside the private directory, where no earlier file can pass for
  // this run's, then copied to its place.
  const fs::path drawn = dir.path() / "speedup.svg";
  const int code = run_script(script, {"--quiet", json.string(), drawn.string()});
  if (code != 0) {
    throw std::runtime_error(std::string(script_name) + " exited with code " + std::to_string(code) +
                             " (its message is above)");
  }
  std::error_code ec;
  if (!fs::is_regular_file(drawn, ec)) throw std::runtime_error(std::string(script_name) + " drew nothing");
  fs::copy_file(drawn, svg, fs::copy_options::overwrite_existing, ec);
  if (ec) throw std::runtime_error("cannot write " + svg + ": " + ec.message());
}

}  // namespace procactor_bench
