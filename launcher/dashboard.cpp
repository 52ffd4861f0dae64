// The dashboard as the launcher holds it: the server comes from its module
// (dashboard_module.hpp); `launch --http` and `procactor dashboard`.
#include "dashboard.hpp"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "dashboard_module.hpp"
#include "module.hpp"
#include "run_client.hpp"

namespace procactor::launcher {

dashboard_server::dashboard_server(const ListenAddress& where) {
  open_dashboard_fn* open = nullptr;
  try {
    open = module_function<open_dashboard_fn>(dashboard_module, open_dashboard_symbol);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot serve the dashboard: ") + e.what());
  }
  http_.reset(open(where));
}

dashboard_server::~dashboard_server() = default;

void dashboard_server::serve(const RunEntry& run) { http_->serve(run); }

std::string dashboard_server::url() const { return http_->url(); }

bool dashboard_server::run_answers() const { return http_->run_answers(); }

void dashboard_server::linger() const { http_->linger(std::chrono::milliseconds(2500)); }

bool bind_dashboard(const ListenAddress& where, std::optional<dashboard_server>& out) {
  try {
    out.emplace(where);
  } catch (const std::exception& e) {
    std::cerr << "procactor: " << e.what() << '\n';
    return false;
  }
  std::cout << "procactor | dashboard at " << out->url() << " (metrics at " << out->url() << "metrics)" << std::endl;
  return true;
}

int dashboard_command(const DashboardOptions& options) {
  int unresolved = exit_no_such_run;
  const auto run = resolve(options.run, unresolved);
  if (!run) return unresolved;
  if (run->state != RunState::live) return report_not_live(*run);
  // Ctrl-C and its kin end the command; taken by sigtimedwait below, in
  // every thread blocked (the server's threads inherit the mask).
  sigset_t stop;
  sigemptyset(&stop);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::optional<dashboard_server> server;
  try {
    server.emplace(options.listen);
  } catch (const std::exception& e) {
    std::cerr << "procactor: " << e.what() << '\n';
    return exit_failure;
  }
  server->serve(*run);
  std::cout << "procactor | dashboard of run " << run->name << " at " << server->url()
            << " (metrics at " << server->url() << "metrics); Ctrl-C to stop" << std::endl;
  for (;;) {
    const timespec second{1, 0};
    const int sig = sigtimedwait(&stop, nullptr, &second);
    if (sig > 0) return exit_ok;
    if (const RunEntry now = refreshed(*run); now.state != RunState::live) {
      server->linger();
      if (now.state == RunState::died) {
        // As every command that finds the run died: said, exit code 1.
        std::cout << "procactor | run " << run->name << " died; the dashboard stops" << std::endl;
        return report_not_live(now);
      }
      std::cout << "procactor | run " << run->name << " has ended; the dashboard stops" << std::endl;
      return exit_ok;
    }
  }
}

}  // namespace procactor::launcher
