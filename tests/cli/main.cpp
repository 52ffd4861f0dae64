// The runner of the CLI tests. It makes itself a child subreaper first, so
// that a detached supervisor (which forks and calls setsid) and any actor
// whose supervisor died are re-parented here, where each test's sandbox can
// find them, kill them and reap them.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sys/prctl.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("prctl(PR_SET_CHILD_SUBREAPER)");
    return 2;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
