// What a run leaves behind: its /dev/shm segments and its child processes.
//
// Shared by the doctest runner (which checks itself after its Runtime is
// gone) and by test-no-leftovers (which checks a test binary from outside).
// No doctest here: test-no-leftovers is a plain program.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace probe {

// Names in /dev/shm of the segments a supervisor with this pid made: the
// arena "procactor-<pid>-<hex>" and its blobs "procactor-<pid>-<hex>-b<n>".
inline std::vector<std::string> run_segments(int supervisor_pid) {
  const std::string prefix = "procactor-" + std::to_string(supervisor_pid) + "-";
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (std::string(entry->d_name).starts_with(prefix)) names.emplace_back(entry->d_name);
    }
    ::closedir(dir);
  }
  return names;
}

struct process_status {
  int pid = 0;
  int ppid = 0;
  char state = '?';  // 'Z' for a zombie
  std::string command;
};

// /proc/<pid>/stat, or nullopt-like {pid = 0} when the process is gone.
inline process_status status_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return {};
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // parse from the last ')'.
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= text.size()) return {};
  process_status s;
  s.pid = pid;
  s.command = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  rest >> s.state >> s.ppid;
  return s;
}

// True while the process exists and is not a zombie.
inline bool is_running(int pid) {
  const process_status s = status_of(pid);
  return s.pid != 0 && s.state != 'Z';
}

// Every process (zombies included) whose parent is `parent`.
inline std::vector<process_status> children_of(int parent) {
  std::vector<process_status> children;
  if (DIR* dir = ::opendir("/proc")) {
    while (const dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      const process_status s = status_of(static_cast<int>(pid));
      if (s.pid != 0 && s.ppid == parent) children.push_back(s);
    }
    ::closedir(dir);
  }
  return children;
}

inline void remove_segment(const std::string& name) { ::unlink(("/dev/shm/" + name).c_str()); }

}  // namespace probe
