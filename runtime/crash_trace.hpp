// A crash by signal prints a symbolized stack trace into the actor's
// stderr (its log, and the tail of its exit record) before the signal
// takes its course: the process still dies of it, core dump and all.
#pragma once

#include <string>

namespace procactor::detail {

// In an actor process, before its code runs. `who` names it in the header
// line. SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS and SIGTRAP.
// Called again in the same process, it only changes the name.
void install_crash_trace(const std::string& who);

}  // namespace procactor::detail
