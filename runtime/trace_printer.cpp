// libprocactor_trace.so: the symbolized stack trace of a crashing actor,
// with backward-cpp over libdw (function, file, line). A module of its own,
// opened only when an actor crashes (runtime/crash_trace.cpp): libdw and
// the five libraries it needs would otherwise be loaded at every actor
// start, which is on the restart path.
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <string>

#define BACKWARD_HAS_DW 1
#include <backward.hpp>

extern "C" __attribute__((visibility("default"))) void procactor_print_trace(void* context, void* fault_address,
                                                                            std::size_t shown_frames) {
  backward::StackTrace trace;
  void* at = nullptr;
#if defined(__x86_64__)
  at = reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  at = reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.pc);
#endif
  if (at != nullptr) {
    trace.load_from(at, 64, context, fault_address);
  } else {
    trace.load_here(64, context, fault_address);
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
}
