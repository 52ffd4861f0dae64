// test-integration-shm-full: a run whose /dev/shm is a small tmpfs of its
// own, in a private mount namespace (unshare(CLONE_NEWNS)), that the tests
// fill up. Where the namespace or the mount is not permitted (no
// CAP_SYS_ADMIN, a container that forbids it) the binary says why and
// passes without running its cases.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "support.hpp"

int main(int argc, char** argv) {
  // An actor re-executes this binary: it is in the namespace already.
  procactor::Runtime::run_if_child();
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=1777") != 0) {
    std::printf(
        "SKIPPED: test-integration-shm-full needs a private mount namespace with a tmpfs of its own over "
        "/dev/shm (unshare -m, mount -t tmpfs), which is not permitted here: %s\n",
        std::strerror(errno));
    return 0;
  }
  return itest::run(argc, argv, procactor::Options{}, std::chrono::seconds(200));
}
