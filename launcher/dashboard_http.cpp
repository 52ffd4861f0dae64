// The module libprocactor_dashboard.so: the dashboard's HTTP server
// (dashboard.hpp says what it serves; dashboard_module.hpp why it is a
// module).
#include "dashboard_module.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli_args.hpp"
#include "control.hpp"
#include "control_protocol.hpp"
#include "json_text.hpp"
#include "log_writer.hpp"
#include "metrics.hpp"
#include "run_dir.hpp"

namespace procactor::launcher {

extern const char* const dashboard_page;  // dashboard.html, embedded at build time

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr auto sample_period = std::chrono::seconds(1);
constexpr auto control_limit = std::chrono::seconds(5);
constexpr std::size_t events_per_reply = 1000;
// The newest events kept for /api/events: a run restarting an actor for
// days writes millions, and a page that polls once a second needs the last
// second's. As many as one reply holds, so that a page that opens late gets
// all that is kept at once.
constexpr std::size_t events_kept = events_per_reply;
constexpr std::size_t log_tail_lines = 50;
constexpr std::size_t log_tail_bytes = 64 * 1024;
constexpr int events_schema = 1;
constexpr auto page_gone_after = std::chrono::seconds(5);
// Threads for open connections, and how long one may keep one waiting for
// its request (a keep-alive one for its next).
constexpr std::size_t connection_threads = 16;
constexpr time_t idle_limit_s = 2;
// How long the server's end waits for its connections' threads.
constexpr auto stop_wait = std::chrono::seconds(1);

// A loopback address written as such (an IPv4 literal in 127/8, ::1) or
// "localhost"; a name that only starts like one ("127.0.0.1.example.com")
// is a name like any other.
bool is_loopback(std::string host) {
  if (host.ends_with('.')) host.pop_back();
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1",
// "[::1]:8080" -> "::1"; a bracket followed by anything but a port is not
// an address ("[::1].example" stays whole).
std::string host_of(const std::string& header) {
  if (header.starts_with('[')) {
    const auto close = header.find(']');
    if (close == std::string::npos || (close + 1 < header.size() && header[close + 1] != ':')) return header;
    return header.substr(1, close - 1);
  }
  return header.substr(0, header.find(':'));
}

std::vector<std::string> last_lines(const fs::path& file, std::size_t lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t from = size > log_tail_bytes ? size - log_tail_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(size - from, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::vector<std::string> all;
  std::size_t start = 0;
  if (from > 0) start = text.find('\n') + 1;  // a cut first line is not shown
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    all.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (all.size() > lines) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(lines));
  return all;
}

// The last lines of an instance's log; for a whole actor, of each of its
// replicas' logs, each line after its instance's name, merged by their
// stamps (as `procactor logs RUN ACTOR` does).
std::vector<std::string> log_tail(const fs::path& logs, const ActorTarget& target) {
  const std::vector<fs::path> files = instance_logs(logs, target.name, target.replica);
  std::vector<std::vector<log_line>> each;
  for (const fs::path& file : files) {
    const std::string prefix = files.size() > 1 ? instance_prefix(file) : std::string();
    std::string stamp;  // a line with none keeps its place after the one before
    auto& lines = each.emplace_back();
    for (std::string& line : last_lines(file, log_tail_lines)) {
      if (const auto own = line_timestamp(line)) stamp = std::string(*own);
      lines.push_back({stamp, prefix + line});
    }
  }
  std::vector<log_line> merged = merge_by_time(std::move(each));
  std::vector<std::string> tail;
  const std::size_t skip = merged.size() > log_tail_lines ? merged.size() - log_tail_lines : 0;
  for (std::size_t i = skip; i < merged.size(); ++i) tail.push_back(std::move(merged[i].text));
  return tail;
}

void reply_json(httplib::Response& res, const json& body, int code = 200) {
  res.status = code;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json_text(body), "application/json");
}

// The server's state, shared by its threads.
struct dashboard_state {
  RunEntry run;
  ListenAddress where;
  int port = 0;
  httplib::Server http;

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool answers = true;
  json status;                 // the last status sample, with "live"
  std::chrono::steady_clock::time_point status_asked{};  // the last GET /api/status
  std::uint64_t end_answers = 0;                         // GET /api/status answered with the run's end
  // One sample at a time: the sampler's, begun while the run answered,
  // must not end after linger's, which finds it ended, and undo it.
  std::mutex sampling;
  std::mutex events_mutex;                               // held while events.jsonl is read
  std::optional<log_follower> events_file;               // events.jsonl, from the oldest file rotation kept
  std::deque<std::string> events;                        // the newest events_kept read, as written
  std::uint64_t events_counted = 0;                      // events read in all (the newest is number events_counted)
  bool listening_done = false;                           // listen_after_bind returned (under mutex)

  void sample() {
    const std::lock_guard one_at_a_time(sampling);
    // Its own client name: rates since its previous sample, a second ago.
    ControlRequest request;
    request.verb = ControlRequest::Verb::status;
    request.client = "dashboard-" + std::to_string(::getpid());
    // A stopped supervisor answers nothing until it is continued: not
    // asked, which would hold the sample (and show the run live) for
    // control_limit.
    std::optional<std::string> reply;
    if (!process_stopped(run.supervisor_pid)) {
      reply = control_request(run.dir / "control.sock", to_request_line(request), control_limit);
    }
    json parsed;
    if (reply) {
      try {
        parsed = json::parse(*reply);
      } catch (const json::exception&) {
        reply.reset();
      }
    }
    read_events();
    // No answer: the run has ended, its supervisor died (then it recorded
    // no end), or it is stopped (SIGSTOP, Ctrl-Z: it answers once
    // continued); the page says which.
    std::string ignored;
    const std::optional<RunEntry> now = reply ? std::nullopt : find_run(run.name, ignored);
    const char* run_state = reply                                                                 ? "live"
                            : now && now->state == RunState::died                                 ? "died"
                            : now && now->state == RunState::live && process_stopped(now->supervisor_pid) ? "stopped"
                                                                                                  : "ended";
    // Ended (its exit recorded; a launch that serves its own dashboard
    // still holds the run as it lingers), what `status --json` says of it
    // now: its last table as it ended, and how; not the last live sample.
    json last;
    if (now && now->state != RunState::died && now->exit_code >= 0) {
      last = json::parse(last_status_json(*now), nullptr, false);
    }
    std::lock_guard guard(mutex);
    answers = reply.has_value();
    if (reply) {
      status = std::move(parsed);
    } else if (last.is_object()) {
      status = std::move(last);
    } else if (run_state == std::string_view("died") && status.contains("actors")) {
      // Its actors died with it: what they had done stays, no process runs.
      for (auto& row : status["actors"]) {
        if (row.value("state", "") == "remote") continue;
        row["state"] = "unknown";
        row["pid"] = 0;
        row["msgs_per_s"] = 0.0;
      }
      if (status.contains("edges")) {
        for (auto& edge : status["edges"]) edge["msgs_per_s"] = 0.0;
      }
    }
    if (!status.is_null()) {
      status["live"] = answers;
      if (answers) {
        status.erase("run_state");
        status.erase("supervisor_pid");
      } else {
        status["run_state"] = run_state;
        status["supervisor_pid"] = now ? now->supervisor_pid : 0;
      }
    }
  }

  // By the sampler, and by a request for events (so that it sees those
  // written since the last sample); one reader at a time. The file is read
  // as it goes, and only the newest events are kept: a dashboard that starts
  // on a long run does not hold its whole history.
  void read_events() {
    std::lock_guard reading(events_mutex);
    if (!events_file) events_file.emplace(run.dir / "events.jsonl", false, true);
    std::deque<std::string> fresh;
    std::uint64_t counted = 0;
    events_file->new_lines([&fresh, &counted](std::string&& line) {
      // A line that is not an event is skipped, as `events` leaves it out.
      if (!is_event(json::parse(line, nullptr, false))) return;
      ++counted;
      fresh.push_back(std::move(line));
      if (fresh.size() > events_kept) fresh.pop_front();
    });
    std::lock_guard guard(mutex);
    events_counted += counted;
    for (auto& e : fresh) events.push_back(std::move(e));
    while (events.size() > events_kept) events.pop_front();
  }

  void sample_loop() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      lock.unlock();
      sample();
      lock.lock();
      wake.wait_for(lock, sample_period, [&] { return stopping; });
    }
  }

  // Loopback-bound: only loopback Host names, against DNS rebinding.
  bool host_allowed(const httplib::Request& req) const {
    if (!is_loopback(where.host)) return true;
    return is_loopback(host_of(req.get_header_value("Host")));
  }

  void routes() {
    // Before any route, and before a body is read: read-only, any method
    // but GET and HEAD is refused, saying what is served (also a POST
    // without a Content-Length, which the library would refuse with a bare
    // 400 once it came to read the body).
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!host_allowed(req)) {
        res.status = 403;
        res.set_content("this dashboard answers only requests to a loopback address\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("this dashboard answers GET and HEAD only, not " + req.method + "\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.status != 404 || !res.body.empty()) return;
      res.set_content("no page " + req.path +
                          " here: the dashboard serves /, /metrics, /api/status, /api/events and "
                          "/api/actor\n",
                      "text/plain");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(dashboard_page, "text/html; charset=utf-8");
    });
    http.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
      {
        std::lock_guard guard(mutex);
        status_asked = std::chrono::steady_clock::now();
        if (status.is_null()) {
          reply_json(res, {{"error", "run " + run.name + " has not answered yet"}}, 503);
          return;
        }
        reply_json(res, status);
        if (!answers) ++end_answers;
      }
      wake.notify_all();
    });
    // Events are numbered from the first this dashboard read (the run's
    // first, unless rotation had removed it): after=N asks for those past
    // the Nth. The reply says which it starts after (later than N when
    // those were no longer kept, at most the count there is) and the after=
    // that asks for the ones still to come.
    http.Get("/api/events", [this](const httplib::Request& req, httplib::Response& res) {
      std::uint64_t after = 0;
      if (req.has_param("after")) {
        // Digits only: stoul took "-1" (as a huge count) and "5x".
        const std::string text = req.get_param_value("after");
        const auto [end, failed] = std::from_chars(text.data(), text.data() + text.size(), after);
        if (text.empty() || failed != std::errc() || end != text.data() + text.size()) {
          reply_json(res, {{"error", "after= wants a count of events"}}, 400);
          return;
        }
      }
      read_events();
      std::vector<std::string> lines;
      std::uint64_t from = 0;
      {
        std::lock_guard guard(mutex);
        const std::uint64_t oldest = events_counted - events.size();
        from = std::clamp(after, oldest, events_counted);
        for (std::uint64_t i = from; i < events_counted && lines.size() < events_per_reply; ++i) {
          lines.push_back(events[i - oldest]);
        }
      }
      json list = json::array();
      for (const auto& line : lines) list.push_back(json::parse(line));
      reply_json(res, {{"schema", events_schema}, {"after", from}, {"next", from + lines.size()}, {"events", list}});
    });
    http.Get("/api/actor", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.get_param_value("name");
      // Checked as the command line checks it: the name goes into a
      // control request and a file name.
      const auto target = parse_actor_target(name);
      if (!target) {
        reply_json(res, {{"error", "'" + name + "' is not ACTOR or ACTOR.N"}}, 400);
        return;
      }
      ControlRequest request;
      request.verb = ControlRequest::Verb::inspect;
      request.target = *target;
      const auto reply = control_request(run.dir / "control.sock", to_request_line(request), control_limit);
      json body;
      if (reply) {
        try {
          body["inspect"] = json::parse(*reply);
        } catch (const json::exception&) {
          // An "error: ..." line: no such actor. The key says it is one.
          constexpr std::string_view mark = "error: ";
          const std::string_view text = *reply;
          reply_json(res, {{"error", std::string(text.starts_with(mark) ? text.substr(mark.size()) : text)}}, 404);
          return;
        }
      } else {
        body["inspect"] = nullptr;
      }
      body["log_tail"] = log_tail(run.dir / "logs", *target);
      reply_json(res, body);
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::string text;
      {
        std::lock_guard guard(mutex);
        if (answers && !status.is_null()) {
          text = prometheus_text(status);
        } else {
          text = "# HELP procactor_up 1 while the run answers its control socket.\n# TYPE procactor_up gauge\n"
                 "procactor_up{run=\"" + prometheus_label_value(run.name) + "\"} 0\n";
        }
      }
      res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });
  }
};

// What the launcher holds (dashboard_server): the server bound, then serving.
class http_dashboard final : public dashboard_http {
 public:
  explicit http_dashboard(const ListenAddress& where) {
    state_.where = where;
    // Not inherited by an actor started with exec; SO_REUSEADDR as the
    // library's default would set it, so that a restart can bind at once.
    state_.http.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      ::fcntl(sock, F_SETFD, FD_CLOEXEC);
    });
    // A thread per open connection: a browser page keeps two or three
    // alive, and each silent one holds its thread until the read timeout.
    state_.http.new_task_queue = [] { return new httplib::ThreadPool(connection_threads); };
    state_.http.set_keep_alive_timeout(idle_limit_s);
    state_.http.set_read_timeout(idle_limit_s, 0);
    errno = 0;
    const int port = where.port == 0 ? state_.http.bind_to_any_port(where.host)
                                     : (state_.http.bind_to_port(where.host, where.port) ? where.port : -1);
    if (port < 0) {
      const std::string why = errno != 0 ? std::strerror(errno) : "the address does not resolve or is not local";
      throw std::runtime_error("cannot serve the dashboard on " + where.host + ":" + std::to_string(where.port) +
                               ": " + why);
    }
    state_.port = port;
    state_.routes();
  }

  ~http_dashboard() override {
    {
      std::lock_guard guard(state_.mutex);
      state_.stopping = true;
    }
    state_.wake.notify_all();
    state_.http.stop();
    if (sampler_.joinable()) sampler_.join();
    if (!listener_.joinable()) return;
    // The server's stop waits for every connection's thread, and a client
    // that sends its request a byte at a time holds one as long as it
    // likes: the run's end, and Ctrl-C of `dashboard`, do not wait for it.
    // Left to finish, or to end with the process, the state outlives this.
    std::unique_lock lock(state_.mutex);
    if (state_.wake.wait_for(lock, stop_wait, [&] { return state_.listening_done; })) {
      lock.unlock();
      listener_.join();
      return;
    }
    lock.unlock();
    listener_.detach();
    (void)owned_.release();
  }
  http_dashboard(const http_dashboard&) = delete;
  http_dashboard& operator=(const http_dashboard&) = delete;

  void serve(const RunEntry& run) override {
    state_.run = run;
    sampler_ = std::thread([s = &state_] { s->sample_loop(); });
    listener_ = std::thread([s = &state_] {
      s->http.listen_after_bind();
      {
        std::lock_guard guard(s->mutex);
        s->listening_done = true;
      }
      s->wake.notify_all();
    });
  }

  [[nodiscard]] std::string url() const override {
    const std::string host =
        state_.where.host.find(':') != std::string::npos ? "[" + state_.where.host + "]" : state_.where.host;
    return "http://" + host + ":" + std::to_string(state_.port) + "/";
  }

  void linger(std::chrono::milliseconds most) override {
    state_.sample();
    std::unique_lock lock(state_.mutex);
    // A page polls once a second: one that asked lately is open.
    if (state_.answers || std::chrono::steady_clock::now() - state_.status_asked > page_gone_after) return;
    const std::uint64_t before = state_.end_answers;
    state_.wake.wait_for(lock, most, [&] { return state_.end_answers > before || state_.stopping; });
  }

  [[nodiscard]] bool run_answers() const override {
    std::lock_guard guard(state_.mutex);
    return state_.answers;
  }

 private:
  std::unique_ptr<dashboard_state> owned_ = std::make_unique<dashboard_state>();
  dashboard_state& state_ = *owned_;
  std::thread listener_;
  std::thread sampler_;
};

}  // namespace

}  // namespace procactor::launcher

// The one symbol the module exports (its build hides every other).
extern "C" __attribute__((visibility("default"))) procactor::launcher::dashboard_http* procactor_open_dashboard(
    const procactor::launcher::ListenAddress& where) {
  return new procactor::launcher::http_dashboard(where);
}
