#include "crash_trace.hpp"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace procactor::detail {
namespace {

char g_who[64];
char g_printer_path[4096];  // libprocactor_trace.so next to this library
// The innermost frames only: with the header they fit the 20 lines of
// stderr an exit record keeps, next to what the actor printed last.
constexpr std::size_t shown_frames = 16;

using print_trace_fn = void (*)(void*, void*, std::size_t);

void on_crash(int sig, siginfo_t* info, void* context) {
  // Not async-signal-safe, and need not be: the process is dying anyway,
  // and what it can print first is worth the risk.
  void* printer = g_printer_path[0] != '\0' ? dlopen(g_printer_path, RTLD_NOW | RTLD_LOCAL) : nullptr;
  auto print = printer != nullptr ? reinterpret_cast<print_trace_fn>(dlsym(printer, "procactor_print_trace")) : nullptr;
  // The header says the order of the frames that follow: the trace module
  // numbers them outermost first, the C library's backtrace_symbols_fd()
  // lists them innermost (this handler) first, unnumbered.
  std::fprintf(stderr, "procactor: %s: caught signal %d (%s); stack, %s:\n", g_who, sig, strsignal(sig),
               print != nullptr ? "most recent call last" : "innermost first");
  std::fflush(stderr);
  if (print != nullptr) {
    print(context, info->si_addr, shown_frames);
  } else {
    // The C library's own: function names (mangled), no files or lines.
    // backtrace() was called once already (install_crash_trace()), so it
    // loads and allocates nothing here; backtrace_symbols_fd() writes
    // straight to the descriptor, without malloc.
    void* frames[shown_frames];
    const int n = backtrace(frames, static_cast<int>(shown_frames));
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
  }
  std::fflush(stderr);
  // SA_RESETHAND put the default action back: the process dies of `sig`.
  ::raise(sig);
  _exit(128 + sig);
}

}  // namespace

void install_crash_trace(const std::string& who) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer reports memory faults better itself; an abort it leaves alone.
  const int signals[] = {SIGABRT};
#else
  const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP};
#endif
  std::strncpy(g_who, who.c_str(), sizeof g_who - 1);
  // The fork server installed the handlers already; an actor forked from it
  // only names itself.
  static bool installed = false;
  if (installed) return;
  installed = true;
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&install_crash_trace), &self) != 0 && self.dli_fname != nullptr) {
    std::string path = self.dli_fname;
    path = path.substr(0, path.find_last_of('/') + 1) + "libprocactor_trace.so";
    if (::access(path.c_str(), R_OK) == 0) std::strncpy(g_printer_path, path.c_str(), sizeof g_printer_path - 1);
  }
  // glibc's backtrace() loads libgcc_s (dlopen, malloc) at its first call:
  // made here, so that the fallback in on_crash() does neither.
  void* first_frame[1];
  (void)backtrace(first_frame, 1);
  // Its own stack: a stack overflow must still get its trace.
  static constexpr std::size_t stack_size = 256 * 1024;
  static void* stack = std::malloc(stack_size);
  if (stack != nullptr) {
    stack_t alternate{};
    alternate.ss_sp = stack;
    alternate.ss_size = stack_size;
    sigaltstack(&alternate, nullptr);
  }
  for (int sig : signals) {
    struct sigaction action {};
    action.sa_sigaction = on_crash;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, nullptr);
  }
}

}  // namespace procactor::detail
