#include "warm_start.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

namespace procactor::detail {
namespace {

constexpr std::uint64_t page = 4096;
constexpr std::uint64_t fault_around = 64 * 1024;
constexpr std::uint64_t written_flag = 1;           // in a published entry: the page was written
constexpr std::uint64_t most_written = 1024 * 1024;  // per mapping: not a big buffer or a stack
constexpr std::uint32_t claimed = ~0U;              // warm_count while an actor fills the list

struct mapping {
  std::uint64_t begin;
  std::uint64_t end;
  bool writable;  // rw-p: a private writable mapping
  bool file;      // r--p or r-xp of a file
};

// This process's private mappings that a start may touch: rw-p ones but the
// stack, and read-only ones of files.
std::vector<mapping> private_mappings() {
  std::vector<mapping> found;
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return found;
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long begin = 0;
    unsigned long end = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &begin, &end, perms, &path_at) < 3) continue;
    std::string_view path(line + path_at);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.remove_suffix(1);
    const std::string_view p(perms);
    if (p == "rw-p" && path != "[stack]" && !path.starts_with("[v")) {
      found.push_back({begin, end, true, false});
    } else if ((p == "r--p" || p == "r-xp") && path.starts_with("/")) {
      found.push_back({begin, end, false, true});
    }
  }
  std::fclose(maps);
  return found;
}

}  // namespace

void publish_warm_pages(arena_header& header) noexcept {
  std::uint32_t none = 0;
  if (header.warm_count.load(std::memory_order_relaxed) != 0 ||
      !header.warm_count.compare_exchange_strong(none, claimed, std::memory_order_acq_rel)) {
    return;
  }
  std::uint32_t count = 0;
  try {
    const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap >= 0) {
      std::vector<std::uint64_t> entries;
      for (const mapping& m : private_mappings()) {
        if (m.writable && m.end - m.begin > most_written) continue;
        const std::size_t pages = (m.end - m.begin) / page;
        entries.assign(pages, 0);
        const auto bytes = static_cast<ssize_t>(pages * sizeof(std::uint64_t));
        if (::pread(pagemap, entries.data(), static_cast<std::size_t>(bytes),
                    static_cast<off_t>(m.begin / page * sizeof(std::uint64_t))) != bytes) {
          continue;
        }
        std::uint64_t last_block = ~std::uint64_t{0};
        for (std::size_t i = 0; i < pages && count < warm_page_limit; ++i) {
          const bool present = (entries[i] >> 63) & 1;
          const bool exclusive = (entries[i] >> 56) & 1;  // mapped by this process alone: written since the fork
          if (!present || (m.writable && !exclusive)) continue;
          const std::uint64_t address = m.begin + i * page;
          if (m.file) {
            // The kernel maps a file's pages 16 at a time around a fault
            // (fault_around_bytes): one touch per such block brings them.
            if (address / fault_around == last_block) continue;
            last_block = address / fault_around;
          }
          header.warm_pages[count++] = address | (m.writable ? written_flag : 0);
        }
      }
      ::close(pagemap);
    }
  } catch (...) {
    count = 0;
  }
  // Zero entries would read as "not yet": one harmless entry stands for none.
  if (count == 0) header.warm_pages[count++] = 0;
  header.warm_count.store(count, std::memory_order_release);
}

// Not instrumented: a sanitizer would take a touch of a heap page's first
// byte (a redzone, a freed block) for a bad access; nothing is read here
// but to bring the page in, and what is written is the byte that was there.
__attribute__((no_sanitize("address", "undefined"))) bool touch_warm_pages(const arena_header& header,
                                                                            int requests) noexcept {
  const std::uint32_t count = header.warm_count.load(std::memory_order_acquire);
  if (count == 0 || count == claimed || count > warm_page_limit) return false;
  std::vector<mapping> mine;
  try {
    mine = private_mappings();
  } catch (...) {
    return true;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    if (i % 16 == 0) {
      // A request that came meanwhile goes first: the rest then faults in
      // as the actor needs it.
      pollfd request{requests, POLLIN, 0};
      if (::poll(&request, 1, 0) != 0) return true;
    }
    const std::uint64_t entry = header.warm_pages[i];
    const std::uint64_t address = entry & ~(page - 1);
    const bool write = (entry & written_flag) != 0;
    for (const mapping& m : mine) {
      if (address < m.begin || address >= m.end) continue;
      if (write && !m.writable) break;
      auto* byte = reinterpret_cast<volatile char*>(address);
      const char value = *byte;
      if (write) *byte = value;  // the same byte, in a private page of this process
      break;
    }
  }
  return true;
}

}  // namespace procactor::detail
