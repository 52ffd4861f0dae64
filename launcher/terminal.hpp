// How the `procactor` command writes to a terminal: one colour policy for
// every command and stream (--color, NO_COLOR, CLICOLOR_FORCE, TERM=dumb),
// `launch`'s lines (`who | text`, the prefix in a stable colour per actor,
// bold for the launcher's own events) and its live status line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/color.h>

namespace procactor::launcher {

// --color's values.
enum class colour_mode : std::uint8_t { automatic, always, never };

// "auto", "always" or "never"; nullopt for anything else.
[[nodiscard]] std::optional<colour_mode> parse_colour_mode(std::string_view text);
// The --color of this process, for every command: main sets it once.
void set_colour_mode(colour_mode mode);
[[nodiscard]] colour_mode current_colour_mode();

// Whether what is written to `fd` gets colour. --color=always or never
// decides; under auto, NO_COLOR (set and not empty) means never, else
// CLICOLOR_FORCE (set, not empty, not "0") always, else TERM=dumb never,
// else colour when `fd` is a terminal. Each stream is asked on its own:
// stdout piped and stderr on a terminal colour the diagnostics only.
[[nodiscard]] bool colour_for(int fd, colour_mode mode);
// The same with this process's --color.
[[nodiscard]] bool colour_for(int fd);

// `text` as a terminal may be given it, where it came from an actor: each
// control character but a tab, DEL and each C1 control (U+0080-U+009F)
// written out as `\xHH` or `\u00HH`, and so each escape sequence but
// colour (SGR: ESC [ digits and ; or : then m, which passes as it is, as
// under `less -R`). An actor's output can then colour its text but not
// move the cursor, clear the screen, set the title or the clipboard, or
// hide what follows it. `text` itself when it has nothing to escape.
[[nodiscard]] std::string terminal_safe(std::string_view text);
// Whether standard output is a terminal, where actors' text gets
// terminal_safe (a pipe or a file gets it as written).
[[nodiscard]] bool stdout_is_terminal();

// `text` in `style` when `colour`, else as it is.
[[nodiscard]] std::string paint(std::string_view text, fmt::text_style style, bool colour);

// Whether standard output can be redrawn: a terminal (not TERM=dumb), never
// a pipe. Colour or not, only then does `launch` show its live status line
// and `status --watch` clear the screen before each table.
[[nodiscard]] bool stdout_redraws();
// That line: "procactor | 1.24 M messages · 48.2 k msg/s · 2 restarts · 1m3s",
// cut to `width` characters when that is not 0: a line that wrapped would
// leave its first rows behind at each redraw, which erases only the last.
[[nodiscard]] std::string progress_line(std::uint64_t processed, double rate, std::uint64_t restarts, double elapsed_s,
                                        bool colour, std::size_t width = 0);
// The width of the terminal standard output is, 0 when it is none.
[[nodiscard]] std::size_t stdout_columns();

// `who | text`, coloured: by the actor's index, or bold for an event of
// the launcher's.
[[nodiscard]] std::string coloured_line(std::string_view who, std::string_view text, bool launcher_event,
                                        std::size_t actor);

}  // namespace procactor::launcher
