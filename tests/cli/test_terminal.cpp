// What a person at a terminal sees: launch's live status line (and its
// absence in a pipe), colour by one policy for every command, status's
// columns, `status --watch` (into a pipe too), `help`, and a mistyped
// command.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"

namespace cli {
namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The start of an escape sequence, as colour (or a screen clear) writes it.
constexpr const char* escape = "\x1b[";

// `text` without its escape sequences, as a terminal lays it out.
std::string shown(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b') {
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~' && text[i] != '[')) ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

// `procactor ARGS` on a terminal: script(1) gives it one and writes what it
// showed there, which this returns. The sandbox sets NO_COLOR; without
// `no_color` the command runs without it.
std::string on_terminal(sandbox& box, const std::string& args, bool no_color, int exit_code = 0) {
  const fs::path typescript = box.dir() / "typescript";
  fs::remove(typescript);
  const std::string command =
      std::string(no_color ? "" : "/usr/bin/env -u NO_COLOR ") + procactor_binary().string() + " " + args;
  const result r = box.program({"/usr/bin/script", "-qfec", command, typescript.string()});
  CHECK_MESSAGE(r.exit_code == exit_code, command, "\n", r.out, r.err);
  return read_text(typescript);
}

// A status table of the long-names graph lines up: each column starts at
// its title's column in every row, after at least two blanks, whatever the
// length of the names in the columns before it.
void check_lined_up(const std::string& table, const std::string& run) {
  const auto lines = lines_of(table);
  REQUIRE_MESSAGE(lines.size() == 7, table);
  CHECK(lines[0] == "run " + run + " (graph long-names)");
  const std::string& header = lines[1];
  const std::vector<std::string> titles = {"TYPE", "GROUP", "PID",       "STATE", "UPTIME", "RST",
                                           "CPU%", "RSS",   "PROCESSED", "MSG/S", "MBOX"};
  for (const auto& title : titles) {
    const std::size_t at = header.find(" " + title + " ");
    REQUIRE_MESSAGE(at != std::string::npos, title, ": ", header);
    for (std::size_t row = 2; row < 6; ++row) {
      const std::string& line = lines[row];
      CHECK_MESSAGE(line.size() > at + 1, title, ": ", line);
      if (line.size() <= at + 1) continue;
      CHECK_MESSAGE((line[at - 1] == ' ' && line[at] == ' ' && line[at + 1] != ' '), title, " at ", at + 1, ": ",
                    line);
    }
  }
  const std::string relay = "a_relay_whose_name_is_longer_than_any_column";
  CHECK(lines[2].starts_with("source.0 "));
  CHECK(lines[3].starts_with(relay + ".0  clitest.Relay   a_supervision_group_with_a_long_name  "));
  CHECK(lines[4].starts_with(relay + ".1  clitest.Relay   a_supervision_group_with_a_long_name  "));
  CHECK(lines[5].starts_with("sink.0 "));
  CHECK(lines[6].starts_with("shared memory "));
}

// How many messages the run's sink has handled, from `status --json`.
std::uint64_t sink_processed(sandbox& box) {
  const result status = box.procactor({"status", "--json"});
  if (status.exit_code != 0) return 0;
  const auto parsed = nlohmann::json::parse(status.out, nullptr, false);
  if (parsed.is_discarded()) return 0;
  for (const auto& row : parsed["actors"]) {
    if (row["name"] == "sink.0") return row["processed"].get<std::uint64_t>();
  }
  return 0;
}

}  // namespace

TEST_CASE("on a terminal launch keeps one live status line and clears it at the end" * doctest::timeout(300)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  const fs::path typescript = box.dir() / "typescript";
  // script(1) (util-linux) gives the launch a terminal, and writes what it
  // showed there; by its path: programs start without a PATH search here.
  auto launch = box.start_program(
      {"/usr/bin/script", "-qfec", procactor_binary().string() + " launch " + graph.string(), typescript.string()});
  // The status line comes a second after "ready" and again every second.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (read_text(typescript).find(" msg/s") == std::string::npos) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no status line: " << read_text(typescript));
    std::this_thread::sleep_for(100ms);
  }
  const result stop = box.procactor({"stop"});
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(launch->wait(120s) == 0);

  const std::string shown = read_text(typescript);
  CHECK(shown.find("procactor | ") != std::string::npos);
  CHECK(shown.find(" messages \xc2\xb7 ") != std::string::npos);
  CHECK(shown.find(" restarts \xc2\xb7 ") != std::string::npos);
  // Each line printed while it shows takes its place ("\r", clear to the
  // end of the line), and the last line of the run comes after it is gone.
  const auto last_line = shown.rfind("graph endless stopped");
  REQUIRE(last_line != std::string::npos);
  const auto clear = shown.rfind("\r\033[K", last_line);
  REQUIRE(clear != std::string::npos);
  CHECK(shown.rfind(" msg/s", last_line) < clear);
}

TEST_CASE("piped launch shows no status line" * doctest::timeout(300)) {
  sandbox box;
  const fs::path graph = box.copy_graph("endless.toml");
  auto launch = box.start({"launch", graph.string()});
  launch->wait_for_output("actors ready", 120s);
  // The source ticks every 10 ms: 300 messages at the sink take at least
  // 3 s of the run, past the first status line a terminal would have had.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (sink_processed(box) < 300) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(100ms);
  }
  const result stop = box.procactor({"stop"});
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  CHECK(launch->wait(120s) == 0);
  CHECK(launch->out().find(" msg/s") == std::string::npos);
  CHECK(launch->out().find('\r') == std::string::npos);
}

// What the painter prints, control characters and all (graphs/painter.toml.in).
const std::string painted =
    "title\x1b]0;owned\x07 clear\x1b[2J red\x1b[31mR\x1b[0m del\x7f c1\xc2\x9b tab\tend";
// The same as a terminal gets it: each control character written out, the
// colour as it is.
const std::string painted_safe =
    "title\\x1b]0;owned\\x07 clear\\x1b[2J red\x1b[31mR\x1b[0m del\\x7f c1\\u009b tab\tend";

TEST_CASE("what an actor prints reaches a terminal with its control characters written out and a pipe as it is" *
          doctest::timeout(300)) {
  sandbox box;
  const fs::path graph = box.copy_graph("painter.toml");
  const std::string launched = on_terminal(box, "launch " + graph.string(), true);
  CHECK_MESSAGE(launched.find("painter.0 | " + painted_safe) != std::string::npos, launched);
  CHECK(launched.find("\x1b]0;") == std::string::npos);
  CHECK(launched.find("\x1b[2J") == std::string::npos);

  const std::string logged = on_terminal(box, "logs painter painter", true);
  CHECK_MESSAGE(logged.find(painted_safe) != std::string::npos, logged);
  CHECK(logged.find("\x1b]0;") == std::string::npos);
  // The run's own log as well: `logs RUN`.
  CHECK(on_terminal(box, "logs painter", true).find("painter.0 | " + painted_safe) != std::string::npos);
  // And the last lines on stderr that `inspect` shows of an exit.
  // (The run has ended: what it left, exit code 3.)
  const std::string inspected = on_terminal(box, "inspect painter painter", true, 3);
  CHECK_MESSAGE(inspected.find("| " + painted_safe) != std::string::npos, inspected);
  CHECK(inspected.find("\x1b]0;") == std::string::npos);

  // Into a pipe, or a file, every byte as the actor wrote it.
  const result piped = box.procactor({"logs", "painter", "painter"});
  REQUIRE_MESSAGE(piped.exit_code == 0, piped.err);
  CHECK_MESSAGE(piped.out.find(painted) != std::string::npos, piped.out);

  // The logs are their owner's only, as run.log is: the painter's too,
  // which the launch made before it had anything to write; and so are the
  // logs' directory and the run's records.
  const fs::path run = box.runs_root() / "painter";
  for (const fs::path& log :
       {run / "run.log", run / "events.jsonl", run / "logs" / "painter.0.log", run / "logs", run / "final_status.json",
        run / "final_inspect.json", run / "exit", run / "started", run / "graph", run / "supervisor.pid"}) {
    REQUIRE_MESSAGE(fs::exists(log), log);
    const fs::perms others = fs::perms::group_all | fs::perms::others_all;
    CHECK_MESSAGE((fs::status(log).permissions() & others) == fs::perms::none, log);
  }
}

TEST_CASE("help names every command and prints one command's usage" * doctest::timeout(60)) {
  sandbox box;
  const result all = box.procactor({"help"});
  CHECK(all.exit_code == 0);
  for (const char* command : {"validate", "launch", "dashboard", "status", "logs", "ls", "events", "stop", "restart",
                              "inspect", "kill", "graph", "help"}) {
    CHECK_MESSAGE(all.out.find(command) != std::string::npos, command);
  }
  const result one = box.procactor({"help", "dashboard"});
  CHECK(one.exit_code == 0);
  CHECK(one.out.find("Usage: procactor dashboard") != std::string::npos);
  CHECK(one.out.find("--http") != std::string::npos);
  // help after an option is parsed by CLI11, and prints the same.
  const result after_option = box.procactor({"--color=never", "help", "dashboard"});
  CHECK(after_option.exit_code == 0);
  CHECK(after_option.out == one.out);
  // help --help is help's own usage.
  const result own = box.procactor({"help", "--help"});
  CHECK(own.exit_code == 0);
  CHECK(own.out.find("Usage: procactor help") != std::string::npos);
}

TEST_CASE("a mistyped command is named with the nearest one and every command" * doctest::timeout(60)) {
  sandbox box;
  const result typo = box.procactor({"stauts"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("procactor: unknown command 'stauts' (did you mean 'status'?)") != std::string::npos);
  CHECK(typo.err.find("validate, launch") != std::string::npos);
  const result far = box.procactor({"frobnicate"});
  CHECK(far.exit_code == 2);
  CHECK(far.err.find("unknown command 'frobnicate'; the commands are") != std::string::npos);
  const result bad_help = box.procactor({"help", "lanch"});
  CHECK(bad_help.exit_code == 2);
  CHECK(bad_help.err ==
        "procactor: help: unknown command 'lanch' (did you mean 'launch'?); procactor help lists the commands\n");
  const result itself = box.procactor({"help", "help"});
  CHECK(itself.exit_code == 0);
  CHECK(itself.out == box.procactor({"help"}).out);
  const result extra = box.procactor({"help", "status", "extra"});
  CHECK(extra.exit_code == 2);
  CHECK(extra.err == "procactor: help takes one command, as in procactor help status; 'extra' is one word too many\n");
}

TEST_CASE("status lines up its columns whatever the length of the names and colours only when asked" *
          doctest::timeout(300)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("long_names.toml"));
  (void)running_instances(box, run.name, 4);

  const result plain = box.procactor({"status", run.name});
  REQUIRE_MESSAGE(plain.exit_code == 0, plain.err);
  CHECK(plain.out.find(escape) == std::string::npos);
  check_lined_up(plain.out, run.name);

  // --color=always wins over NO_COLOR and a pipe, before the command or
  // after it; the escapes take no room in the columns.
  for (const auto& args : std::vector<std::vector<std::string>>{{"status", run.name, "--color=always"},
                                                                {"--color", "always", "status", run.name}}) {
    const result coloured = box.procactor(args);
    REQUIRE_MESSAGE(coloured.exit_code == 0, coloured.err);
    CHECK_MESSAGE(coloured.out.find("\x1b[32mrunning\x1b[0m") != std::string::npos, coloured.out);
    check_lined_up(shown(coloured.out), run.name);
  }
  // CLICOLOR_FORCE colours a pipe too, but NO_COLOR comes first.
  const std::string procactor = procactor_binary().string();
  const result forced =
      box.program({"/usr/bin/env", "-u", "NO_COLOR", "CLICOLOR_FORCE=1", procactor, "status", run.name});
  REQUIRE_MESSAGE(forced.exit_code == 0, forced.err);
  CHECK(forced.out.find(escape) != std::string::npos);
  const result not_forced = box.program({"/usr/bin/env", "CLICOLOR_FORCE=1", procactor, "status", run.name});
  REQUIRE_MESSAGE(not_forced.exit_code == 0, not_forced.err);
  CHECK(not_forced.out.find(escape) == std::string::npos);
  // A value --color does not take is a usage error.
  CHECK(box.procactor({"status", run.name, "--color=sometimes"}).exit_code == 2);

  // On a terminal: colour by default, none with --color=never or NO_COLOR.
  CHECK(on_terminal(box, "status " + run.name, false).find(escape) != std::string::npos);
  const std::string never = on_terminal(box, "status --color=never " + run.name, false);
  CHECK(never.find(escape) == std::string::npos);
  CHECK(never.find("running") != std::string::npos);
  const std::string no_color = on_terminal(box, "ls", true);
  CHECK(no_color.find(escape) == std::string::npos);
  CHECK(no_color.find(run.name) != std::string::npos);
  CHECK(on_terminal(box, "ls", false).find("\x1b[32mlive\x1b[0m") != std::string::npos);

  const result stop = box.procactor({"stop", run.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  check_run_left_nothing(run.supervisor);
}

TEST_CASE("launch and validate colour when --color or CLICOLOR_FORCE asks and never under --no-color or NO_COLOR" *
          doctest::timeout(300)) {
  sandbox box;
  const std::string graph = test_graph("exits_at_once.toml").string();
  const std::string procactor = procactor_binary().string();
  // Into a pipe, over the sandbox's NO_COLOR: --color=always wins.
  const result always = box.procactor({"launch", "--color=always", graph});
  CHECK_MESSAGE(always.exit_code == 0, always.err);
  CHECK_MESSAGE(always.out.find("\x1b[1mprocactor |\x1b[0m 1 actor ready in ") != std::string::npos, always.out);
  const result plain = box.procactor({"launch", graph});
  CHECK_MESSAGE(plain.exit_code == 0, plain.err);
  CHECK(plain.out.find(escape) == std::string::npos);
  CHECK(plain.out.find("procactor | 1 actor ready in ") != std::string::npos);
  // CLICOLOR_FORCE colours a pipe; --no-color (as --color=never) still wins.
  const result forced = box.program({"/usr/bin/env", "-u", "NO_COLOR", "CLICOLOR_FORCE=1", procactor, "launch", graph});
  CHECK_MESSAGE(forced.exit_code == 0, forced.err);
  CHECK(forced.out.find("\x1b[1mprocactor |\x1b[0m") != std::string::npos);
  const result no_color =
      box.program({"/usr/bin/env", "-u", "NO_COLOR", "CLICOLOR_FORCE=1", procactor, "launch", "--no-color", graph});
  CHECK_MESSAGE(no_color.exit_code == 0, no_color.err);
  CHECK(no_color.out.find(escape) == std::string::npos);

  // Diagnostics go to stderr, which is asked on its own.
  const fs::path broken = box.write("broken.toml", "version = 1\n[graph]\nname = 3\n");
  const result coloured = box.procactor({"validate", "--color=always", broken.string()});
  CHECK(coloured.exit_code == 2);
  CHECK_MESSAGE(coloured.err.find("\x1b[1m\x1b[31merror:\x1b[0m") != std::string::npos, coloured.err);
  const result uncoloured = box.procactor({"validate", broken.string()});
  CHECK(uncoloured.exit_code == 2);
  CHECK(uncoloured.err.find(escape) == std::string::npos);
  CHECK(uncoloured.err.find("broken.toml:3:8: error: ") != std::string::npos);
}

TEST_CASE("status --watch into a pipe prints each table as it is made and ends with the run" * doctest::timeout(300)) {
  sandbox box;
  const auto run = launch_detached(box, box.copy_graph("endless.toml"));
  (void)running_instances(box, run.name, 4);
  auto watch = box.start({"status", "--watch", run.name});
  // Tables reach the pipe while the watch goes on, not when it ends.
  const std::string title = "run " + run.name + " (graph endless)";
  REQUIRE_MESSAGE(eventually([&] { return count_of(watch->out(), title) >= 2; }, 120s), watch->out());
  REQUIRE_FALSE(watch->poll().has_value());
  const result stop = box.procactor({"stop", run.name}, 120s);
  REQUIRE_MESSAGE(stop.exit_code == 0, stop.err);
  // The run's end ends the watch (exit code 3, as status of an ended run),
  // after the table the run left.
  CHECK(watch->wait(120s) == 3);
  const std::string out = watch->out();
  CHECK_MESSAGE(out.find("run " + run.name + " ended at ") != std::string::npos, out);
  // Into a pipe: no screen clear, the tables a blank line apart.
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find("\n\n" + title + "\n") != std::string::npos);
  // Every table, the run's last one too: one blank line before each but
  // the first.
  CHECK_MESSAGE(count_of(out, "\n\n" + title + "\n") == count_of(out, title) - 1, out);
  check_run_left_nothing(run.supervisor);
}

}  // namespace cli
