// The commands' tables (table.hpp): columns as wide as their widest cell,
// widths as a terminal shows them.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "table.hpp"
#include "terminal.hpp"

using namespace procactor::launcher;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

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

}  // namespace

TEST_CASE("display_width counts code points and no escape sequences") {
  CHECK(display_width("") == 0);
  CHECK(display_width("worker.1") == 8);
  CHECK(display_width("\xc2\xb7") == 1);  // "·", two bytes
  CHECK(display_width("\x1b[32mrunning\x1b[0m") == 7);
  CHECK(display_width("\x1b[1m\x1b[31merror:\x1b[0m") == 6);
  CHECK(display_width(paint("failed", fmt::emphasis::bold | fmt::fg(fmt::terminal_color::red), true)) == 6);
}

TEST_CASE("a long name widens its column and the columns after it stay in line") {
  text_table table;
  table.add({"ACTOR", "PID", "STATE"});
  table.add({"source.0", "101", "running"});
  table.add({"a_relay_whose_name_is_longer_than_any_column.1", "20202", "exited"});
  table.add({"sink.0", "3", "running"});
  const auto lines = lines_of(table.take());
  REQUIRE(lines.size() == 4);
  const std::string name = "a_relay_whose_name_is_longer_than_any_column.1";
  const std::size_t pid_at = name.size() + 2;
  const std::size_t state_at = pid_at + 5 + 2;
  CHECK(lines[0] == "ACTOR" + std::string(pid_at - 5, ' ') + "PID" + std::string(state_at - pid_at - 3, ' ') + "STATE");
  for (const auto& line : lines) {
    CHECK_MESSAGE(line[pid_at - 1] == ' ', line);
    CHECK_MESSAGE(line[pid_at] != ' ', line);
    CHECK_MESSAGE(line[state_at - 1] == ' ', line);
    CHECK_MESSAGE(line[state_at] != ' ', line);
  }
  CHECK(lines[2] == name + "  20202  exited");
}

TEST_CASE("escape sequences of colour take no room in a column") {
  text_table table;
  table.add({"STATE", "RST"});
  table.add({paint("running", fmt::fg(fmt::terminal_color::green), true), "0"});
  table.add({"exited", "12"});
  const std::string text = table.take();
  CHECK(text.find("\x1b[32mrunning\x1b[0m  0\n") != std::string::npos);
  CHECK(shown(text) == "STATE    RST\nrunning  0\nexited   12\n");
}

TEST_CASE("rows end at their last cell: no blanks after it, nor for empty cells at the end") {
  text_table table;
  table.add({"NAME", "LAST EXIT"});
  table.add({"worker.0", ""});
  table.add({"worker.10", "signal 9"});
  CHECK(table.take() == "NAME       LAST EXIT\nworker.0\nworker.10  signal 9\n");
}

TEST_CASE("a line as it is takes no part in the columns") {
  text_table table(1);
  table.add({"a", "b"});
  table.add_line("a line much wider than any cell");
  table.add({"ccc", "d"});
  CHECK(table.take() == "a   b\na line much wider than any cell\nccc d\n");
}

TEST_CASE("widths carry over from one take to the next and never shrink") {
  text_table table(1);
  table.min_widths({0, 10});
  table.add({"12:00", "started", "worker.0"});
  CHECK(table.take() == "12:00 started    worker.0\n");
  table.add({"12:01", "exited", "w"});
  CHECK(table.take() == "12:01 exited     w\n");
  // A wider cell widens its column from then on.
  table.add({"12:02:03", "restarting", "worker.0"});
  table.add({"12:03", "ready", "-"});
  CHECK(table.take() == "12:02:03 restarting worker.0\n12:03    ready      -\n");
  CHECK(table.take().empty());
}
