#include "arena.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>
#include <random>
#include <vector>

#include "procactor/error.hpp"

namespace bip = boost::interprocess;

namespace procactor::detail {
namespace {

constexpr char segment_prefix[] = "procactor-";

std::string random_hex64() {
  std::random_device device;
  const std::uint64_t value = (std::uint64_t{device()} << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Reserves [offset, offset + size) now, so that a full /dev/shm fails here
// with a clear error instead of SIGBUS at the first touch of a page.
//
// Allocations share pages, and a tmpfs whose fallocate fails part-way frees
// the pages of its range that are not yet up to date. That never takes a
// neighbour's page: fallocates of one file run one at a time, and one that
// finds a page another has reserved marks it up to date; so a failed call
// frees only pages it allocated itself, and the neighbour's own call, before
// or after, leaves its page backed (tests/integration/test_shm_full.cpp).
// A signal during a long reservation makes it fail with EINTR: it is tried
// again, not reported as a full /dev/shm.
int reserve(int fd, std::uint64_t offset, std::uint64_t size) noexcept {
  int rc;
  do {
    rc = posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(size));
  } while (rc == EINTR);
  return rc;
}

// The arena a segment belongs to: its own name, or for a blob
// ("<arena>-b<N>") the arena's part; empty when it is not procactor's. An
// arena is "procactor-<pid>-<16 hex digits>", parsed exactly: the random
// digits may themselves hold a "b".
std::string arena_of(const char* name) {
  const std::string_view text = name;
  std::size_t at = sizeof segment_prefix - 1;
  if (text.substr(0, at) != segment_prefix) return {};
  const std::size_t digits = at;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
  if (at == digits || at >= text.size() || text[at] != '-') return {};
  ++at;
  for (int i = 0; i < 16; ++i, ++at) {
    if (at >= text.size() || std::strchr("0123456789abcdef", text[at]) == nullptr) return {};
  }
  if (at == text.size()) return std::string(text);
  if (text.substr(at, 2) != "-b" || at + 2 == text.size()) return {};
  for (std::size_t i = at + 2; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return {};
  }
  return std::string(text.substr(0, at));
}

// Walks /dev/shm with raw getdents64: no allocation, so that the run's exit
// path can use it from a signal handler.
template <class F>
void for_each_segment(F&& visit) noexcept {
  const int dir = ::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  alignas(8) char buffer[4096];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buffer, sizeof buffer);
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      struct raw_dirent {
        std::uint64_t ino;
        std::int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      const auto* entry = reinterpret_cast<const raw_dirent*>(buffer + at);
      visit(static_cast<const char*>(entry->name));
      at += entry->reclen;
    }
  }
  ::close(dir);
}

std::string limit_text(rlim_t value) {
  return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value) + " bytes";
}

// What /dev/shm has, for the errors that find it full: "a tmpfs of N bytes,
// M free" (from the open segment `fd`, or the directory when fd < 0).
std::string shm_space(int fd) {
  struct statvfs vfs {};
  const int rc = fd >= 0 ? ::fstatvfs(fd, &vfs) : ::statvfs("/dev/shm", &vfs);
  if (rc != 0) return "its size unknown";
  const auto unit = static_cast<std::uint64_t>(vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize);
  return "it holds " + std::to_string(std::uint64_t{vfs.f_blocks} * unit) + " bytes, " +
         std::to_string(std::uint64_t{vfs.f_bavail} * unit) + " free";
}

std::string shm_full_text(int fd, std::uint64_t bytes) {
  return "/dev/shm is full: no room for " + std::to_string(bytes) + " more bytes of shared memory (" + shm_space(fd) +
         "; make the tmpfs larger, e.g. `mount -o remount,size=1G /dev/shm`, or free it)";
}

// Why a segment could not be made or mapped, by errno, naming /dev/shm or
// the limit that refused it.
std::string create_hint(int code, std::uint64_t size) {
  switch (code) {
    case EROFS:
      return " (/dev/shm is mounted read-only: procactor needs a writable tmpfs there)";
    case EACCES:
    case EPERM:
      return " (no permission to create files in /dev/shm: it should be a tmpfs of mode 1777)";
    case ENOENT:
    case ENOTDIR:
      return " (/dev/shm is missing: procactor needs a writable tmpfs there)";
    case ENOSPC:
      return " (" + shm_full_text(-1, size) + ")";
    case EMFILE:
    case ENFILE:
      return " (too many open files: raise `ulimit -n`)";
    case ENOMEM: {
      struct rlimit limit {};
      if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        return " (mapping " + std::to_string(size) +
               " bytes is beyond the address-space limit RLIMIT_AS (`ulimit -v`) of " + limit_text(limit.rlim_cur) +
               ": raise it or lower Options::arena_size)";
      }
      return "";
    }
    default:
      return "";
  }
}

void unlink_segment(const char* name) noexcept {
  char path[300] = "/dev/shm/";
  std::strncat(path, name, sizeof path - std::strlen(path) - 1);
  ::unlink(path);
}

}  // namespace

std::string arena::new_name() {
  return std::string(segment_prefix) + std::to_string(::getpid()) + "-" + random_hex64();
}

arena arena::create(const std::string& name, std::size_t size, std::size_t lane_capacity,
                    std::size_t max_message_size) {
  sweep_dead_segments();
  arena a;
  a.name_ = name;
  size = size_for(size);
  // The segment's length is a file size: past RLIMIT_FSIZE (ulimit -f) its
  // ftruncate would raise SIGXFSZ, which kills the process without a word.
  if (struct rlimit limit{};
      ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < size) {
    throw error(errc::system, "cannot create shared memory of " + std::to_string(size) +
                                  " bytes in /dev/shm: the file-size limit RLIMIT_FSIZE (`ulimit -f`) is " +
                                  limit_text(limit.rlim_cur) +
                                  "; raise it (`ulimit -f unlimited`) or lower "
                                  "Options::arena_size");
  }
  const std::uint64_t start = (sizeof(arena_header) + cache_line - 1) & ~std::uint64_t{cache_line - 1};
  try {
    a.shm_ = bip::shared_memory_object(bip::create_only, a.name_.c_str(), bip::read_write, bip::permissions(0600));
    const int fd = a.shm_.get_mapping_handle().handle;
    // Taken before the header says "arena": a sweeper that finds a valid
    // header with a free lock knows the owner is dead (see the sweep).
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) throw_system_error("flock of " + a.name_, errno);
    a.shm_.truncate(static_cast<bip::offset_t>(size));
    if (const int rc = reserve(fd, 0, start); rc != 0) {
      throw error(errc::system, "cannot reserve " + std::to_string(start) + " bytes of shared memory for " + a.name_ +
                                    " in /dev/shm: " + std::strerror(rc) +
                                    (rc == ENOSPC ? " (" + shm_full_text(fd, start) + ")" : std::string()));
    }
    a.region_ = bip::mapped_region(a.shm_, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(a.name_.c_str());
    throw error(errc::system, "cannot create shared memory /dev/shm/" + a.name_ + " of " + std::to_string(size) +
                                  " bytes: " + e.what() + create_hint(e.get_native_error(), size));
  } catch (...) {
    bip::shared_memory_object::remove(a.name_.c_str());
    throw;
  }
  a.base_ = static_cast<std::byte*>(a.region_.get_address());
  a.size_ = size;
  // A new segment reads as zeros, which is every field's initial value:
  // writing them (arena_header{}) would fault in all of the header's
  // pages here, about 115, most of them slots no actor of the run takes.
  a.header_ = reinterpret_cast<arena_header*>(a.base_);
  a.header_->supervisor_pid = static_cast<std::uint32_t>(::getpid());
  a.header_->size = size;
  a.header_->max_message_size = max_message_size;
  a.header_->lane_capacity = lane_capacity;
  std::strncpy(a.header_->run_name, a.name_.c_str(), name_length - 1);
  a.header_->bump.store(start);
  std::atomic_ref<std::uint32_t>(a.header_->magic).store(arena_magic, std::memory_order_release);
  return a;
}

arena arena::open(const std::string& name) {
  arena a;
  a.name_ = name;
  try {
    a.shm_ = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    a.region_ = bip::mapped_region(a.shm_, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw error(errc::system, "cannot open shared memory " + name + ": " + e.what());
  }
  a.base_ = static_cast<std::byte*>(a.region_.get_address());
  a.size_ = a.region_.get_size();
  a.header_ = reinterpret_cast<arena_header*>(a.base_);
  if (a.size_ < sizeof(arena_header) || a.header_->magic != arena_magic || a.header_->size != a.size_) {
    throw error(errc::system, "shared memory " + name + " is not a procactor arena");
  }
  return a;
}

std::optional<std::uint64_t> arena::allocate(std::size_t bytes, std::string* problem) const noexcept {
  const std::uint64_t rounded = (bytes + cache_line - 1) & ~std::uint64_t{cache_line - 1};
  std::uint64_t at = header_->bump.load(std::memory_order_relaxed);
  do {
    if (at > size_ || rounded > size_ - at) {
      if (problem != nullptr) *problem = shortage(bytes);
      return std::nullopt;
    }
  } while (!header_->bump.compare_exchange_weak(at, at + rounded, std::memory_order_relaxed));
  if (const int rc = reserve(shm_.get_mapping_handle().handle, at, rounded); rc != 0) {
    // Nobody else was handed these bytes: give them back, so that a full
    // /dev/shm does not use up the arena's limit. When another allocation
    // followed, they stay a hole, not counted as in use.
    std::uint64_t expected = at + rounded;
    if (!header_->bump.compare_exchange_strong(expected, at, std::memory_order_relaxed)) {
      header_->unbacked.fetch_add(rounded, std::memory_order_relaxed);
    }
    if (problem != nullptr) {
      try {
        *problem = rc == ENOSPC ? shm_full_text(shm_.get_mapping_handle().handle, rounded)
                                : "cannot reserve " + std::to_string(rounded) +
                                      " bytes of shared memory in /dev/shm: " + std::strerror(rc);
      } catch (const std::bad_alloc&) {
        problem->clear();
      }
    }
    return std::nullopt;
  }
  return at;
}

std::string arena::shortage(std::size_t bytes) const {
  const std::uint64_t rounded = (bytes + cache_line - 1) & ~std::uint64_t{cache_line - 1};
  const std::uint64_t bumped = header_->bump.load(std::memory_order_relaxed);
  if (bumped > size_ || rounded > size_ - bumped) {
    return "the run's shared memory is at its limit of " + std::to_string(size_) + " bytes (" + std::to_string(used()) +
           " in use; raise Options::arena_size)";
  }
  return shm_full_text(shm_.get_mapping_handle().handle, rounded);
}

std::optional<std::uint64_t> arena::make_mailbox(std::uint32_t owner, std::uint64_t lane_capacity,
                                                 std::string* problem) const noexcept {
  auto offset = allocate(sizeof(mailbox), problem);
  if (!offset) return std::nullopt;
  // Bump-allocated space of a new segment is never handed out twice and
  // reads as zeros, every field's initial value: writing them (mailbox{})
  // would fault in the lane table's pages, 8 KiB per mailbox, here in the
  // supervisor rather than in the one consumer that reads them.
  auto* box = reinterpret_cast<mailbox*>(base_ + *offset);
  box->owner = owner;
  box->lane_capacity = align8(lane_capacity);
  box->magic = mailbox_magic;
  return offset;
}

lane* arena::lane_at(std::uint64_t offset) const noexcept {
  auto* l = at<lane>(offset);
  if (l == nullptr || l->magic != lane_magic) return nullptr;
  if (at<std::byte>(offset, sizeof(lane) + l->capacity) == nullptr) return nullptr;
  return l;
}

void sweep_dead_segments() noexcept {
  // Gather the names first: unlinking while walking the directory can make
  // getdents skip entries.
  std::vector<std::string> names;
  try {
    for_each_segment([&](const char* name) {
      if (std::strncmp(name, segment_prefix, sizeof segment_prefix - 1) == 0) names.emplace_back(name);
    });
    std::vector<std::string> dead;
    for (const auto& name : names) {
      const std::string owner = arena_of(name.c_str());
      if (owner.empty() || owner != name) continue;  // blobs go with their arena, below
      const std::string path = "/dev/shm/" + owner;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      struct stat st {};
      std::uint32_t magic = 0;
      const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
      if (!locked && ::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof magic)) {
        (void)!::pread(fd, &magic, sizeof magic, 0);
      }
      // A free lock on a finished header: the owner died. A free lock on an
      // unfinished one may be a supervisor between creating and locking it,
      // so only an old one is taken as dead.
      const bool old = ::time(nullptr) - st.st_ctime > 60;
      if (!locked && (magic == arena_magic || old)) dead.push_back(owner);
      ::close(fd);
    }
    for (const auto& name : names) {
      const std::string owner = arena_of(name.c_str());
      if (owner.empty()) continue;  // not a name procactor makes: not ours to remove
      const bool orphan_blob = owner != name && std::find(names.begin(), names.end(), owner) == names.end();
      if (orphan_blob || std::find(dead.begin(), dead.end(), owner) != dead.end()) unlink_segment(name.c_str());
    }
  } catch (const std::exception&) {
    // Out of memory while sweeping: the next start-up sweeps again.
  }
}

void remove_run_segments(const char* run) noexcept {
  const std::size_t length = std::strlen(run);
  if (length == 0) return;
  for_each_segment([&](const char* name) {
    if (std::strncmp(name, run, length) == 0) unlink_segment(name);
  });
}

std::string blob_create(const arena& a, std::span<const std::byte> payload) {
  const auto seq = a.header()->blob_seq.fetch_add(1, std::memory_order_relaxed);
  std::string name = a.name() + "-b" + std::to_string(seq);
  try {
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, bip::permissions(0600));
    shm.truncate(static_cast<bip::offset_t>(payload.size()));
    if (const int rc = reserve(shm.get_mapping_handle().handle, 0, payload.size()); rc != 0) {
      bip::shared_memory_object::remove(name.c_str());
      throw error(errc::system, "cannot reserve " + std::to_string(payload.size()) +
                                    " bytes of shared memory for a large message in /dev/shm: " +
                                    (rc == ENOSPC ? shm_full_text(-1, payload.size()) : std::strerror(rc)));
    }
    bip::mapped_region region(shm, bip::read_write);
    std::memcpy(region.get_address(), payload.data(), payload.size());
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(name.c_str());
    throw error(errc::system, "cannot create shared memory " + name + ": " + e.what());
  }
  return name;
}

std::uint64_t blob_bytes(const arena& a) noexcept {
  std::uint64_t total = 0;
  const std::string prefix = a.name() + "-b";
  const int dir = ::open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  for_each_segment([&](const char* name) {
    struct stat st {};
    // One removed since the directory was read counts nothing.
    if (std::strncmp(name, prefix.c_str(), prefix.size()) == 0 && ::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      total += static_cast<std::uint64_t>(st.st_size);
    }
  });
  ::close(dir);
  return total;
}

bool blob_valid_name(const arena& a, const char* name) noexcept {
  const auto& run = a.name();
  return std::strncmp(name, run.c_str(), run.size()) == 0 && std::strchr(name, '/') == nullptr;
}

}  // namespace procactor::detail
