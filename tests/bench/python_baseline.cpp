#include "python_baseline.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "child_process.hpp"

#ifndef PROCACTOR_BENCH_MP_SCRIPT
#error "PROCACTOR_BENCH_MP_SCRIPT (the source path of mp_baseline.py) must be defined by the build"
#endif
#ifndef PROCACTOR_BENCH_POOL_RESTART_SCRIPT
#error "PROCACTOR_BENCH_POOL_RESTART_SCRIPT (the source path of pool_restart_baseline.py) must be defined by the build"
#endif

namespace procactor_bench {

namespace {

constexpr const char* script_name = "mp_baseline.py";
constexpr const char* pool_restart_script_name = "pool_restart_baseline.py";
// The pool restart baseline runs on Debian's own interpreter, whatever
// python3 comes first on PATH (a pyenv or venv one, say).
constexpr const char* debian_python = "/usr/bin/python3";
// The script's default-sized run takes well under a minute here; the limit
// only stops a wedged interpreter from holding the whole benchmark.
constexpr auto script_timeout = std::chrono::seconds(240);

std::optional<double> number_field(const std::map<std::string, flat_json_value>& object,
                                   const std::string& key) {
  const auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (const auto* value = std::get_if<double>(&it->second)) return *value;
  return std::nullopt;
}

class flat_json_parser {
 public:
  explicit flat_json_parser(std::string_view text) : text_(text) {}

  std::optional<std::map<std::string, flat_json_value>> parse() {
    std::map<std::string, flat_json_value> object;
    skip_space();
    if (!consume('{')) return std::nullopt;
    skip_space();
    if (!consume('}')) {
      for (;;) {
        skip_space();
        auto key = parse_string();
        skip_space();
        if (!key || !consume(':')) return std::nullopt;
        skip_space();
        auto value = parse_value();
        if (!value) return std::nullopt;
        object[*key] = std::move(*value);
        skip_space();
        if (consume(',')) continue;
        if (consume('}')) break;
        return std::nullopt;
      }
    }
    skip_space();
    if (pos_ != text_.size()) return std::nullopt;
    return object;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::optional<std::string> parse_string() {
    if (!consume('"')) return std::nullopt;
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return std::nullopt;
      const char escaped = text_[pos_++];
      switch (escaped) {
        case '"': case '\\': case '/': out += escaped; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return std::nullopt;
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = text_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
            else return std::nullopt;
          }
          append_utf8(out, code);
          break;
        }
        default: return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::optional<flat_json_value> parse_value() {
    if (pos_ >= text_.size()) return std::nullopt;
    if (text_[pos_] == '"') {
      auto text = parse_string();
      if (!text) return std::nullopt;
      return flat_json_value{std::move(*text)};
    }
    if (consume(std::string_view("true"))) return flat_json_value{true};
    if (consume(std::string_view("false"))) return flat_json_value{false};
    // Python's json writes NaN/Infinity for non-finite floats; they are not
    // figures anyone can use, so they read as null.
    if (consume(std::string_view("null")) || consume(std::string_view("NaN")) ||
        consume(std::string_view("Infinity")) || consume(std::string_view("-Infinity"))) {
      return flat_json_value{};
    }
    const std::size_t begin = pos_;
    while (pos_ < text_.size() &&
           std::string_view("+-0123456789.eE").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    if (pos_ == begin) return std::nullopt;
    const std::string token(text_.substr(begin, pos_ - begin));
    char* end = nullptr;
    const double value = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size()) return std::nullopt;
    return flat_json_value{value};
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<std::map<std::string, flat_json_value>> parse_flat_json_object(std::string_view text) {
  return flat_json_parser(text).parse();
}

std::string locate_script(const char* name, const char* source_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  try {
    const fs::path beside = fs::path(self_executable()).parent_path() / name;
    if (fs::is_regular_file(beside, ec)) return beside.string();
  } catch (const std::exception&) {
    // No /proc: fall through to the source path.
  }
  const fs::path source = source_path;
  if (fs::is_regular_file(source, ec)) return source.string();
  return {};
}

std::string locate_mp_script() { return locate_script(script_name, PROCACTOR_BENCH_MP_SCRIPT); }

namespace {

// Runs `python script args...` in its own process group, reads the one flat
// JSON object it prints, reaps it and what it left behind. On failure the
// object is empty and `note` says why (`what` names the baseline in it).
struct script_output {
  std::optional<std::map<std::string, flat_json_value>> object;
  std::string note;
};

script_output run_json_script(const std::string& python, const std::string& script,
                              const std::vector<std::string>& args, const std::string& what) {
  script_output out;
  const std::string name = std::filesystem::path(script).filename().string();
  try {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    fd_guard read_end(pipe_fds[0]);
    fd_guard write_end(pipe_fds[1]);
    auto child = child_process::start(python, args, write_end.get(), true);
    // Our copy of the write end must go, or the read never sees EOF.
    write_end.reset();

    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + script_timeout;
    if (!read_until_eof(read_end.get(), output, deadline)) {
      child.kill_and_reap();
      out.note = name + " timed out: " + what + " not measured";
      return out;
    }
    const auto status = child.wait_for(std::chrono::seconds(10));
    child.reap_group(std::chrono::seconds(2));
    if (!status || !status->success()) {
      out.note = name + " " + (status ? status->describe() : std::string("hung at exit")) + ": " + what +
                 " not measured (its stderr says why)";
      return out;
    }
    out.object = parse_flat_json_object(output);
    if (!out.object) out.note = name + " printed something other than one flat JSON object";
  } catch (const std::exception& e) {
    out.note = what + " not measured: " + e.what();
  }
  return out;
}

std::string string_field(const std::map<std::string, flat_json_value>& object, const std::string& key) {
  if (const auto it = object.find(key); it != object.end()) {
    if (const auto* text = std::get_if<std::string>(&it->second)) return *text;
  }
  return {};
}

}  // namespace

namespace {

// mp_baseline.py with `--measure what` and the counts it needs; `key` is the
// figure read back (and `key`_p90_us's prefix for round trips).
python_figure run_mp_script(const std::vector<std::string>& measure_args, const std::string& key,
                            const std::string& p90_key, const std::string& what) {
  python_figure figure;
  const auto python = find_in_path("python3");
  if (!python) {
    figure.note = "python3 not found on PATH: " + what + " not measured";
    return figure;
  }
  const std::string script = locate_mp_script();
  if (script.empty()) {
    figure.note = std::string(script_name) + " not found next to the binary nor at " +
                  PROCACTOR_BENCH_MP_SCRIPT + ": " + what + " not measured";
    return figure;
  }
  std::vector<std::string> args{"python3", script};
  args.insert(args.end(), measure_args.begin(), measure_args.end());
  const auto out = run_json_script(*python, script, args, what);
  if (!out.object) {
    figure.note = out.note;
    return figure;
  }
  figure.value = number_field(*out.object, key);
  if (!p90_key.empty()) figure.p90 = number_field(*out.object, p90_key);
  figure.message_bytes = number_field(*out.object, "queue_message_bytes");
  figure.python_version = string_field(*out.object, "python_version");
  if (!figure.value) figure.note = std::string(script_name) + " printed no " + key + ": " + what + " not measured";
  return figure;
}

std::vector<std::string> stream_args(const stream_params& stream) {
  return {"--stream-min-messages", std::to_string(stream.min_messages),
          "--stream-max-messages", std::to_string(stream.max_messages),
          "--stream-target-s", std::to_string(stream.target_run_seconds),
          "--stream-warmups", std::to_string(stream.warmups),
          "--stream-runs", std::to_string(stream.runs)};
}

}  // namespace

python_figure run_python_stream(const stream_params& stream) {
  auto args = stream_args(stream);
  args.insert(args.end(), {"--measure", "stream"});
  return run_mp_script(args, "queue_stream_msg_s", "", "the Python Queue stream");
}

python_figure run_python_pipeline(const stream_params& stream, int middles) {
  auto args = stream_args(stream);
  args.insert(args.end(), {"--pipeline-middles", std::to_string(middles), "--measure", "pipeline"});
  return run_mp_script(args, "queue_pipeline_msg_s", "", "the Python Queue pipeline");
}

python_figure run_python_senders(const stream_params& stream, int senders) {
  auto args = stream_args(stream);
  args.insert(args.end(), {"--senders", std::to_string(senders), "--measure", "senders"});
  return run_mp_script(args, "queue_senders_msg_s", "", "the Python Queue fan-in");
}

python_figure run_python_round_trip(const round_trip_params& round_trip) {
  if (round_trip.pause.count() > 0) {
    return run_mp_script({"--parked-warmups", std::to_string(round_trip.warmups), "--parked-samples",
                          std::to_string(round_trip.samples), "--pause-us", std::to_string(round_trip.pause.count()),
                          "--measure", "parked"},
                         "pipe_round_trip_parked_us", "pipe_round_trip_parked_p90_us",
                         "the Python Pipe round trip (parked)");
  }
  return run_mp_script({"--rt-warmups", std::to_string(round_trip.warmups), "--rt-samples",
                        std::to_string(round_trip.samples), "--measure", "round_trip"},
                       "pipe_round_trip_us", "pipe_round_trip_p90_us", "the Python Pipe round trip");
}

std::string locate_pool_restart_script() {
  return locate_script(pool_restart_script_name, PROCACTOR_BENCH_POOL_RESTART_SCRIPT);
}

python_pool_restart_results run_python_pool_restart(const restart_params& params) {
  python_pool_restart_results results;
  if (::access(debian_python, X_OK) != 0) {
    results.note = std::string(debian_python) + " not found: Python pool restart not measured";
    return results;
  }
  const std::string script = locate_pool_restart_script();
  if (script.empty()) {
    results.note = std::string(pool_restart_script_name) + " not found next to the binary nor at " +
                   PROCACTOR_BENCH_POOL_RESTART_SCRIPT + ": Python pool restart not measured";
    return results;
  }
  const std::vector<std::string> args{
      "python3", script, "--kills", std::to_string(params.kills), "--warmups", std::to_string(params.warmups),
      "--timeout-s", std::to_string(std::chrono::duration<double>(params.give_up).count())};
  const auto out = run_json_script(debian_python, script, args, "Python pool restart");
  if (!out.object) {
    results.note = out.note;
    return results;
  }
  std::vector<double> samples;
  const std::string text = string_field(*out.object, "samples_ms");
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string token = text.substr(begin, end - begin);
    char* parsed_end = nullptr;
    const double value = std::strtod(token.c_str(), &parsed_end);
    if (token.empty() || parsed_end != token.c_str() + token.size() || !std::isfinite(value)) {
      results.note = std::string(pool_restart_script_name) + " printed a sample that is not a number: " + token;
      return results;
    }
    samples.push_back(value);
    begin = end + 1;
  }
  if (samples.size() != static_cast<std::size_t>(params.kills)) {
    results.note = std::string(pool_restart_script_name) + " timed " + std::to_string(samples.size()) +
                   " kills instead of " + std::to_string(params.kills) + ": Python pool restart not measured";
    return results;
  }
  results.latency_ms = summarize(std::move(samples));
  results.python_version = string_field(*out.object, "python_version");
  results.start_method = string_field(*out.object, "start_method");
  return results;
}

}  // namespace procactor_bench
