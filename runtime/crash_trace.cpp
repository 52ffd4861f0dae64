#include "crash_trace.hpp"

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if PROCACTOR_HAS_BACKWARD
#define BACKWARD_HAS_DW 1
#include <backward.hpp>
#else
#include <execinfo.h>
#endif

namespace procactor::detail {
namespace {

char g_who[64];
// The innermost frames only: with the header they fit the 20 lines of
// stderr an exit record keeps, next to what the actor printed last.
constexpr std::size_t shown_frames = 16;

void on_crash(int sig, siginfo_t* info, void* context) {
  std::fprintf(stderr, "procactor: %s: caught signal %d (%s); stack, most recent call last:\n", g_who, sig,
               strsignal(sig));
#if PROCACTOR_HAS_BACKWARD
  backward::StackTrace trace;
  void* at = nullptr;
#if defined(__x86_64__)
  at = reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  at = reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.pc);
#endif
  if (at != nullptr) {
    trace.load_from(at, 48, context, info->si_addr);
  } else {
    trace.load_here(48, context, info->si_addr);
  }
  backward::TraceResolver resolver;
  resolver.load_stacktrace(trace);
  // One line per frame, innermost last, named by the symbol (which says
  // whose member function it is) and placed by file and line.
  for (std::size_t i = std::min(trace.size(), shown_frames); i-- > 0;) {
    const backward::ResolvedTrace frame = resolver.resolve(trace[i]);
    const std::string& function = !frame.object_function.empty() ? frame.object_function : frame.source.function;
    if (!frame.source.filename.empty()) {
      std::fprintf(stderr, "  #%zu %s at %s:%u\n", i, function.c_str(), frame.source.filename.c_str(),
                   frame.source.line);
    } else {
      std::fprintf(stderr, "  #%zu %s in %s\n", i, function.empty() ? "??" : function.c_str(),
                   frame.object_filename.c_str());
    }
  }
#else
  (void)info;
  (void)context;
  void* frames[shown_frames];
  const int n = backtrace(frames, static_cast<int>(shown_frames));
  std::fflush(stderr);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
#endif
  std::fflush(stderr);
  // SA_RESETHAND put the default action back: the process dies of `sig`.
  ::raise(sig);
  _exit(128 + sig);
}

}  // namespace

void install_crash_trace(const std::string& who) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)who;  // the sanitizer's own report is the better one
#else
  std::strncpy(g_who, who.c_str(), sizeof g_who - 1);
  // Its own stack: a stack overflow must still get its trace.
  static constexpr std::size_t stack_size = 256 * 1024;
  static void* stack = std::malloc(stack_size);
  if (stack != nullptr) {
    stack_t alternate{};
    alternate.ss_sp = stack;
    alternate.ss_size = stack_size;
    sigaltstack(&alternate, nullptr);
  }
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP}) {
    struct sigaction action {};
    action.sa_sigaction = on_crash;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, nullptr);
  }
#endif
}

}  // namespace procactor::detail
