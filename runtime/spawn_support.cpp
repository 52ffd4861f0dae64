#include "spawn_support.hpp"

#include <signal.h>

#include <cstring>

extern char** environ;

namespace procactor::detail {

child_environment::child_environment(std::vector<std::string> extra) {
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PROCACTOR_", 10) != 0) storage_.emplace_back(*e);
  }
  for (auto& s : extra) storage_.push_back(std::move(s));
  for (auto& s : storage_) pointers_.push_back(s.data());
  pointers_.push_back(nullptr);
}

void init_spawn_attributes(posix_spawnattr_t& attr, short flags) {
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
}

}  // namespace procactor::detail
