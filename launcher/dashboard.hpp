// The live dashboard of a run, over HTTP (cpp-httplib): one self-contained
// page, Prometheus metrics and the JSON it is drawn from.
//
//   GET /              the page (dashboard.html): the graph with each edge's
//                      msg/s, each instance's state, mailbox fill, CPU and
//                      RSS, an actor table, the event log, and per actor its
//                      exit records, dead letters and log tail
//   GET /metrics       the Prometheus text format (metrics.hpp)
//   GET /api/status    the run's `status --json` object, plus "live"
//   GET /api/events    {"schema", "after", "next", "events": [...]} from
//                      the run's events.jsonl, the newest 1000 kept;
//                      ?after=N skips the first N
//   GET /api/actor?name=ACTOR[.N]
//                      {"inspect": `inspect --json`, "log_tail": [lines]}
//
// The server is a client of the run like any other: it asks the run's
// control socket for `status` once a second (one sampler, however many
// browsers look) and reads the run directory. So it serves a run from the
// process that launched it (`launch --http`) as from another one
// (`procactor dashboard RUN`). It only reads: nothing on it changes the run.
//
// It binds 127.0.0.1 unless told otherwise. Bound to a loopback address it
// answers only requests whose Host is a loopback name, so that a web page
// elsewhere cannot read it through DNS rebinding.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "run_dir.hpp"
#include "units.hpp"

namespace procactor::launcher {

class dashboard_http;

// The server itself lives in the module libprocactor_dashboard.so
// (dashboard_module.hpp), loaded by the first dashboard_server.
class dashboard_server {
 public:
  // Binds at once; throws std::runtime_error naming the address and the
  // reason when it cannot (or that the module cannot be loaded). Serves
  // nothing until serve().
  explicit dashboard_server(const ListenAddress& where);
  ~dashboard_server();
  dashboard_server(const dashboard_server&) = delete;
  dashboard_server& operator=(const dashboard_server&) = delete;

  // Starts the sampler and the listening thread, for `run`. Call it once
  // no fork is to come (after `--detach` and after the Runtime exists).
  void serve(const RunEntry& run);

  [[nodiscard]] std::string url() const;
  // Whether the run still answered its control socket at the last sample.
  [[nodiscard]] bool run_answers() const;
  // After the run's end: an open page is told how it ended before the
  // server goes (dashboard_module.hpp).
  void linger() const;

 private:
  std::unique_ptr<dashboard_http> http_;  // from libprocactor_dashboard.so
};

// For `launch --http`: binds `out` and prints its address; or says why it
// cannot and returns false. Called before the run is made and before
// --detach, so that a port in use fails the command itself and leaves no
// run behind.
[[nodiscard]] bool bind_dashboard(const ListenAddress& where, std::optional<dashboard_server>& out);

struct DashboardOptions {
  std::optional<std::string> run;  // absent: the live run (find_run)
  ListenAddress listen{"127.0.0.1", 8080};
};

// `procactor dashboard [RUN] [--http [ADDR:]PORT]`: serves a run until
// Ctrl-C, or until the run ends.
[[nodiscard]] int dashboard_command(const DashboardOptions& options);

}  // namespace procactor::launcher
