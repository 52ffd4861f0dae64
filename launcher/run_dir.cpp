#include "run_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "control.hpp"

namespace procactor::launcher {

std::filesystem::path runs_root() {
  const char* base = std::getenv("XDG_RUNTIME_DIR");
  std::filesystem::path root =
      std::filesystem::path(base != nullptr && *base != '\0' ? base : "/tmp") / ("procactor-" + std::to_string(::getuid()));
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + root.string() + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::lstat(root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw std::runtime_error(root.string() + " is not a directory");
  }
  if (info.st_uid != ::getuid() || (info.st_mode & 077) != 0) {
    throw std::runtime_error(root.string() + " must be a 0700 directory owned by you");
  }
  return root;
}

std::vector<RunEntry> list_runs() {
  std::vector<RunEntry> runs;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(runs_root(), ignored)) {
    if (!entry.is_directory() || !std::filesystem::exists(entry.path() / "supervisor.pid")) continue;
    RunEntry run{entry.path().filename().string(), entry.path(), false};
    run.live = control_request(entry.path() / "control.sock", "ping").has_value();
    runs.push_back(std::move(run));
  }
  return runs;
}

std::optional<RunEntry> find_run(const std::optional<std::string>& name, std::string& error) {
  auto runs = list_runs();
  if (name) {
    for (auto& run : runs) {
      if (run.name == *name) return run;
    }
    error = "no such run '" + *name + "'";
    return std::nullopt;
  }
  std::vector<RunEntry> live;
  for (auto& run : runs) {
    if (run.live) live.push_back(run);
  }
  if (live.size() == 1) return live.front();
  if (live.empty()) {
    error = "no run is active";
  } else {
    error = "several runs are active; name one:";
    for (const auto& run : live) error += " " + run.name;
  }
  return std::nullopt;
}

RunEntry create_run(const std::string& graph_name) {
  const auto root = runs_root();
  for (int n = 1;; ++n) {
    const std::string name = n == 1 ? graph_name : graph_name + "-" + std::to_string(n);
    const auto dir = root / name;
    if (std::filesystem::exists(dir)) {
      if (control_request(dir / "control.sock", "ping")) continue;  // a live run holds this name
      std::filesystem::remove_all(dir);
    }
    std::filesystem::create_directories(dir / "logs");
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    return {name, dir, true};
  }
}

}  // namespace procactor::launcher
