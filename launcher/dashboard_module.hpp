// The dashboard's HTTP server, as the module libprocactor_dashboard.so
// makes it (dashboard_http.cpp) and the launcher holds it (dashboard.hpp's
// dashboard_server). A module, because cpp-httplib brings OpenSSL, zlib and
// brotli, which a launcher that serves no dashboard, and every actor forked
// from it, would otherwise map (module.hpp).
#pragma once

#include <chrono>
#include <string>

#include "run_dir.hpp"
#include "units.hpp"

namespace procactor::launcher {

class dashboard_http {
 public:
  virtual ~dashboard_http() = default;
  // Starts the sampler and the listening thread, for `run`.
  virtual void serve(const RunEntry& run) = 0;
  [[nodiscard]] virtual std::string url() const = 0;
  // Whether the run still answered its control socket at the last sample.
  [[nodiscard]] virtual bool run_answers() const = 0;
  // Once the run has ended: samples it again, so that /api/status says how
  // it ended, and where a page asked for the status in the last seconds,
  // waits until a page has been told (or `most` has passed).
  virtual void linger(std::chrono::milliseconds most) = 0;
};

// Binds at once, before there is a run to serve (a launch binds before it
// makes its run, so that a port in use leaves no run behind); throws
// std::runtime_error naming the address and the reason when it cannot.
// The caller owns the result.
using open_dashboard_fn = dashboard_http*(const ListenAddress& where);
inline constexpr const char* dashboard_module = "libprocactor_dashboard.so";
inline constexpr const char* open_dashboard_symbol = "procactor_open_dashboard";

}  // namespace procactor::launcher
