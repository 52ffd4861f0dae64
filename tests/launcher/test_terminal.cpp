// The colour policy of every command (terminal.hpp): --color, NO_COLOR,
// CLICOLOR_FORCE and TERM=dumb in their order, for a terminal (a
// pseudo-terminal's follower) and for a pipe; and launch's lines.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "terminal.hpp"

using namespace procactor::launcher;

namespace {

// An environment variable set (or unset) for a scope, and put back after,
// so that a test sees only what it sets and leaves the process as it was.
class scoped_env {
 public:
  scoped_env(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The three variables the policy reads, each given or unset.
struct environment {
  scoped_env no_color;
  scoped_env force;
  scoped_env term;
  environment(const std::optional<std::string>& no_color_value, const std::optional<std::string>& force_value,
              const std::optional<std::string>& term_value)
      : no_color("NO_COLOR", no_color_value), force("CLICOLOR_FORCE", force_value), term("TERM", term_value) {}
};

// A terminal: the follower side of a new pseudo-terminal.
class pty {
 public:
  pty() {
    leader_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (leader_ < 0 || ::grantpt(leader_) != 0 || ::unlockpt(leader_) != 0) throw std::runtime_error("no pty");
    follower_ = ::open(::ptsname(leader_), O_RDWR | O_NOCTTY);
    if (follower_ < 0) throw std::runtime_error("no pty follower");
  }
  ~pty() {
    ::close(follower_);
    ::close(leader_);
  }
  pty(const pty&) = delete;
  pty& operator=(const pty&) = delete;
  [[nodiscard]] int fd() const { return follower_; }

 private:
  int leader_ = -1;
  int follower_ = -1;
};

class pipe_ends {
 public:
  pipe_ends() {
    if (::pipe(fds_) != 0) throw std::runtime_error("no pipe");
  }
  ~pipe_ends() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  pipe_ends(const pipe_ends&) = delete;
  pipe_ends& operator=(const pipe_ends&) = delete;
  [[nodiscard]] int fd() const { return fds_[1]; }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace

TEST_CASE("--color takes auto, always and never only") {
  CHECK(parse_colour_mode("auto") == colour_mode::automatic);
  CHECK(parse_colour_mode("always") == colour_mode::always);
  CHECK(parse_colour_mode("never") == colour_mode::never);
  CHECK_FALSE(parse_colour_mode("yes"));
  CHECK_FALSE(parse_colour_mode(""));
  CHECK_FALSE(parse_colour_mode("Always"));
}

TEST_CASE("--color=always and never win over the environment and the stream") {
  const pty terminal;
  const pipe_ends pipe;
  {
    const environment env("1", std::nullopt, "dumb");
    CHECK(colour_for(pipe.fd(), colour_mode::always));
    CHECK(colour_for(terminal.fd(), colour_mode::always));
  }
  {
    const environment env(std::nullopt, "1", "xterm");
    CHECK_FALSE(colour_for(terminal.fd(), colour_mode::never));
    CHECK_FALSE(colour_for(pipe.fd(), colour_mode::never));
  }
}

TEST_CASE("auto colours a terminal and not a pipe") {
  const pty terminal;
  const pipe_ends pipe;
  const environment env(std::nullopt, std::nullopt, "xterm");
  CHECK(colour_for(terminal.fd(), colour_mode::automatic));
  CHECK_FALSE(colour_for(pipe.fd(), colour_mode::automatic));
  // No TERM at all is no reason to hold back.
  const scoped_env no_term("TERM", std::nullopt);
  CHECK(colour_for(terminal.fd(), colour_mode::automatic));
}

TEST_CASE("under auto NO_COLOR comes first, then CLICOLOR_FORCE, then TERM=dumb") {
  const pty terminal;
  const pipe_ends pipe;
  SUBCASE("NO_COLOR turns colour off, on a terminal too, and wins over CLICOLOR_FORCE") {
    const environment env("1", std::nullopt, "xterm");
    CHECK_FALSE(colour_for(terminal.fd(), colour_mode::automatic));
    const scoped_env force("CLICOLOR_FORCE", "1");
    CHECK_FALSE(colour_for(terminal.fd(), colour_mode::automatic));
    CHECK_FALSE(colour_for(pipe.fd(), colour_mode::automatic));
  }
  SUBCASE("an empty NO_COLOR counts as unset") {
    const environment env("", std::nullopt, "xterm");
    CHECK(colour_for(terminal.fd(), colour_mode::automatic));
    CHECK_FALSE(colour_for(pipe.fd(), colour_mode::automatic));
  }
  SUBCASE("CLICOLOR_FORCE colours a pipe, and wins over TERM=dumb") {
    const environment env(std::nullopt, "1", "dumb");
    CHECK(colour_for(pipe.fd(), colour_mode::automatic));
    CHECK(colour_for(terminal.fd(), colour_mode::automatic));
  }
  SUBCASE("CLICOLOR_FORCE=0 or empty forces nothing") {
    for (const char* value : {"0", ""}) {
      const environment env(std::nullopt, value, "xterm");
      CHECK_MESSAGE(!colour_for(pipe.fd(), colour_mode::automatic), "CLICOLOR_FORCE=", value);
      CHECK_MESSAGE(colour_for(terminal.fd(), colour_mode::automatic), "CLICOLOR_FORCE=", value);
    }
  }
  SUBCASE("TERM=dumb turns a terminal's colour off") {
    const environment env(std::nullopt, std::nullopt, "dumb");
    CHECK_FALSE(colour_for(terminal.fd(), colour_mode::automatic));
    CHECK_FALSE(colour_for(pipe.fd(), colour_mode::automatic));
  }
}

TEST_CASE("colour_for(fd) follows the process's --color") {
  const pipe_ends pipe;
  const environment env("1", std::nullopt, "xterm");
  CHECK(current_colour_mode() == colour_mode::automatic);
  set_colour_mode(colour_mode::always);
  CHECK(colour_for(pipe.fd()));
  set_colour_mode(colour_mode::never);
  CHECK_FALSE(colour_for(pipe.fd()));
  set_colour_mode(colour_mode::automatic);
  CHECK_FALSE(colour_for(pipe.fd()));
}

TEST_CASE("paint adds escape sequences only when asked") {
  CHECK(paint("running", fmt::fg(fmt::terminal_color::green), false) == "running");
  CHECK(paint("running", fmt::fg(fmt::terminal_color::green), true) == "\x1b[32mrunning\x1b[0m");
}

TEST_CASE("launch's lines: a coloured prefix, and the status line plain or dim") {
  CHECK(coloured_line("worker.1", "hello", false, 0) == "\x1b[36mworker.1 |\x1b[0m hello");
  CHECK(coloured_line("procactor", "4 actors ready", true, 3) == "\x1b[1mprocactor |\x1b[0m 4 actors ready");
  CHECK(progress_line(1'240'000, 48'200, 2, 63.4, false) ==
        "procactor | 1.24 M messages \xc2\xb7 48.2 k msg/s \xc2\xb7 2 restarts \xc2\xb7 1m03s");
  CHECK(progress_line(12, 0, 1, 4.3, false) ==
        "procactor | 12 messages \xc2\xb7 0 msg/s \xc2\xb7 1 restart \xc2\xb7 4.3 s");
  CHECK(progress_line(0, 0, 0, 3725, true) ==
        "\x1b[2mprocactor | 0 messages \xc2\xb7 0 msg/s \xc2\xb7 0 restarts \xc2\xb7 1h02m05s\x1b[0m");
  // Cut to a narrow terminal's width, in characters ('\xc2\xb7' is one), colour closed.
  CHECK(progress_line(12, 0, 1, 4.3, false, 19) == "procactor | 12 mess");
  CHECK(progress_line(12, 0, 1, 4.3, false, 25) == "procactor | 12 messages \xc2\xb7");
  CHECK(progress_line(12, 0, 1, 4.3, true, 9) == "\x1b[2mprocactor\x1b[0m");
  CHECK(progress_line(12, 0, 1, 4.3, false, 200) == progress_line(12, 0, 1, 4.3, false));
}

TEST_CASE("terminal_safe writes out control characters and lets colour through") {
  CHECK(terminal_safe("plain text, \xc3\xa9t\xc3\xa9 \xe2\x82\xac and a\ttab") ==
        "plain text, \xc3\xa9t\xc3\xa9 \xe2\x82\xac and a\ttab");
  CHECK(terminal_safe("") == "");
  // The title, the screen, the cursor, a bell, a carriage return, DEL.
  CHECK(terminal_safe("\x1b]0;owned\x07") == "\\x1b]0;owned\\x07");
  CHECK(terminal_safe("a\x1b[2Jb") == "a\\x1b[2Jb");
  CHECK(terminal_safe("\x1b[1;1H") == "\\x1b[1;1H");
  CHECK(terminal_safe("over\rwritten") == "over\\x0dwritten");
  CHECK(terminal_safe("\x7f") == "\\x7f");
  CHECK(terminal_safe(std::string_view("nul\0byte", 8)) == "nul\\x00byte");
  // A C1 control (U+009B is a CSI of its own), but not other two-byte UTF-8.
  CHECK(terminal_safe("\xc2\x9b" "2J") == "\\u009b" "2J");
  CHECK(terminal_safe("\xc2\xa0") == "\xc2\xa0");
  // Colour passes, as under less -R, whole or not at all.
  CHECK(terminal_safe("\x1b[31mred\x1b[0m \x1b[38;5;208mx\x1b[m") == "\x1b[31mred\x1b[0m \x1b[38;5;208mx\x1b[m");
  CHECK(terminal_safe("\x1b[31") == "\\x1b[31");
  CHECK(terminal_safe("\x1b[?25l") == "\\x1b[?25l");
  CHECK(terminal_safe("\x1b") == "\\x1b");
}
