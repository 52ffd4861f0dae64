// How `launch` writes its lines to a terminal: `who | text`, the prefix in
// a stable colour per actor (bold for the launcher's own events), only
// when asked for, on a terminal, and without NO_COLOR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace procactor::launcher {

// Whether standard output gets colour: `asked` (no --no-color), a
// terminal, and no NO_COLOR in the environment.
[[nodiscard]] bool colour_output(bool asked);
// Whether `launch` shows its live status line: on a terminal that can
// rewrite a line (not TERM=dumb), never when piped.
[[nodiscard]] bool progress_output();
// That line: "procactor | 1.24 M messages · 48.2 k msg/s · 2 restarts · 1m3s".
[[nodiscard]] std::string progress_line(std::uint64_t processed, double rate, std::uint64_t restarts, double elapsed_s,
                                        bool colour);

// `who | text`, coloured: by the actor's index, or bold for an event of
// the launcher's.
[[nodiscard]] std::string coloured_line(std::string_view who, std::string_view text, bool launcher_event,
                                        std::size_t actor);

}  // namespace procactor::launcher
