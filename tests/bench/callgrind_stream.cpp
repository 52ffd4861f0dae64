#include "callgrind_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "child_process.hpp"
#include "launcher_workloads.hpp"
#include "shm_cleanup.hpp"

extern char** environ;

namespace procactor_bench {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view driver_flag = "--callgrind-driver";
// Callgrind runs a program some 50-100 times slower; 2 x 20,000 messages
// and two runtimes' start-up take tens of seconds on 2 CPUs.
constexpr auto run_timeout = std::chrono::seconds(600);

// The functions whose insides callgrind counts (see the header). The
// actor's loop is ActorBase::run, `while (auto m = recv()) handle(m)`, but
// the compiler inlines it into the host (a devirtualised call), so its two
// calls are toggled instead: between them the loop adds a few instructions.
constexpr const char* sender_toggle = "*callgrind_send_ticks*";
constexpr const char* consumer_toggles[] = {"procactor::ActorBase::recv*", "procactor::detail::actor_host::handle*"};

// The "totals:" line of a callgrind output file (the events collected while
// a toggled function ran), or its "summary:" line in older formats.
std::uint64_t instructions_in(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("callgrind wrote no " + file.string());
  std::string line;
  std::optional<std::uint64_t> summary;
  while (std::getline(in, line)) {
    for (const std::string_view label : {"totals: ", "summary: "}) {
      if (line.rfind(label, 0) == 0) summary = std::strtoull(line.c_str() + label.size(), nullptr, 10);
    }
  }
  if (!summary) throw std::runtime_error(file.string() + " has no totals line");
  return *summary;
}

std::string tail_of(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

struct side_counts {
  std::uint64_t sender = 0;
  std::uint64_t consumer = 0;
};

side_counts run_once(const std::string& valgrind, const temp_dir& dir, std::uint64_t messages) {
  const std::string tag = std::to_string(messages);
  const fs::path fifo = dir.path() / ("hold-" + tag);
  if (::mkfifo(fifo.c_str(), 0600) != 0) throw std::system_error(errno, std::generic_category(), "mkfifo");
  const std::vector<std::string> args{
      "valgrind",
      "--tool=callgrind",
      "--trace-children=yes",
      "--collect-atstart=no",
      std::string("--toggle-collect=") + sender_toggle,
      std::string("--toggle-collect=") + consumer_toggles[0],
      std::string("--toggle-collect=") + consumer_toggles[1],
      "--callgrind-out-file=" + (dir.path() / ("callgrind-" + tag + ".%p")).string(),
      "--log-file=" + (dir.path() / ("valgrind-" + tag + ".%p.log")).string(),
      self_executable(),
      std::string(driver_flag),
      tag,
      fifo.string()};
  // Actors by posix_spawn + exec, which valgrind follows; nothing else of a
  // procactor child's own mode leaks in.
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with("PROCACTOR_")) env.emplace_back(*entry);
  }
  env.emplace_back("PROCACTOR_SPAWN=exec");

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  fd_guard read_end(fds[0]);
  fd_guard write_end(fds[1]);
  auto child = child_process::start(valgrind, args, write_end.get(), true, -1, &env);
  write_end.reset();
  std::string output;
  if (!read_until_eof(read_end.get(), output, std::chrono::steady_clock::now() + run_timeout)) {
    throw std::runtime_error("the callgrind run of " + tag + " messages did not finish in time");
  }
  const auto status = child.wait_for(std::chrono::seconds(60));
  child.reap_group(std::chrono::seconds(2));
  int sender_pid = 0;
  int consumer_pid = 0;
  unsigned long long sent = 0;
  const auto at = output.find("sender_pid=");
  if (!status || !status->success() || at == std::string::npos ||
      std::sscanf(output.c_str() + at, "sender_pid=%d consumer_pid=%d messages=%llu", &sender_pid,
                  &consumer_pid, &sent) != 3 ||
      sent != messages) {
    std::string logs;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("valgrind-" + tag + ".")) logs += name + ":\n" + tail_of(entry.path(), 8);
    }
    throw std::runtime_error("the callgrind run of " + tag + " messages " +
                             (status ? status->describe() : std::string("hung at exit")) + "; its output: " +
                             output + "\n" + logs);
  }
  return {instructions_in(dir.path() / ("callgrind-" + tag + "." + std::to_string(sender_pid))),
          instructions_in(dir.path() / ("callgrind-" + tag + "." + std::to_string(consumer_pid)))};
}

}  // namespace

bool is_callgrind_driver(int argc, char** argv) { return argc == 4 && argv[1] == driver_flag; }

std::uint64_t callgrind_driver_messages(char** argv) { return std::strtoull(argv[2], nullptr, 10); }

std::string callgrind_driver_fifo(char** argv) { return argv[3]; }

int run_callgrind(std::uint64_t messages, bool json) {
  const auto valgrind = find_in_path("valgrind");
  if (!valgrind) {
    std::cerr << "procactor-bench: --callgrind needs valgrind on PATH (apt-get install valgrind)\n";
    return 2;
  }
  try {
    const temp_dir dir;
    const side_counts once = run_once(*valgrind, dir, messages);
    const side_counts twice = run_once(*valgrind, dir, 2 * messages);
    const auto per_message = [&](std::uint64_t small, std::uint64_t large) {
      return (static_cast<double>(large) - static_cast<double>(small)) / static_cast<double>(messages);
    };
    const double sender = per_message(once.sender, twice.sender);
    const double consumer = per_message(once.consumer, twice.consumer);
    char line[256];
    if (json) {
      std::snprintf(line, sizeof line,
                    "{\"callgrind\": {\"messages\": [%llu, %llu], \"sender_instructions\": [%llu, %llu], "
                    "\"consumer_instructions\": [%llu, %llu], \"sender_instructions_per_message\": %.1f, "
                    "\"consumer_instructions_per_message\": %.1f}}\n",
                    static_cast<unsigned long long>(messages), static_cast<unsigned long long>(2 * messages),
                    static_cast<unsigned long long>(once.sender), static_cast<unsigned long long>(twice.sender),
                    static_cast<unsigned long long>(once.consumer), static_cast<unsigned long long>(twice.consumer),
                    sender, consumer);
      std::cout << line;
    } else {
      std::cout << "procactor-bench --callgrind: stream of 32-byte Ticks, instructions counted by callgrind\n";
      std::snprintf(line, sizeof line, "  %-10s %16s %16s %22s\n", "side", "N messages", "2N messages",
                    "instructions/message");
      std::cout << line;
      std::snprintf(line, sizeof line, "  %-10s %16llu %16llu %22.1f\n", "sender",
                    static_cast<unsigned long long>(once.sender), static_cast<unsigned long long>(twice.sender),
                    sender);
      std::cout << line;
      std::snprintf(line, sizeof line, "  %-10s %16llu %16llu %22.1f\n", "consumer",
                    static_cast<unsigned long long>(once.consumer), static_cast<unsigned long long>(twice.consumer),
                    consumer);
      std::cout << line;
      std::cout << "  N = " << messages
                << "; per message = (I(2N) - I(N)) / N; sender: the send loop (encode + "
                   "ActorRef::send), consumer: the actor's message loop (receive, decode, dispatch, "
                   "handler, commit)\n";
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "procactor-bench --callgrind: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace procactor_bench
