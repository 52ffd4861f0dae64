#include "lane.hpp"

#include <cstdlib>
#include <new>
#include <string_view>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "futex.hpp"

namespace procactor::detail {

lane* lane_create(void* memory, std::uint64_t capacity, std::uint32_t sender) noexcept {
  auto* l = new (memory) lane{};
  l->tail.store(0, std::memory_order_relaxed);
  l->head.store(0, std::memory_order_relaxed);
  l->delivered.store(0, std::memory_order_relaxed);
  l->space_seq.store(0, std::memory_order_relaxed);
  l->producer_waiting.store(0, std::memory_order_relaxed);
  l->next_lane.store(0, std::memory_order_relaxed);
  l->remote_outstanding.store(0, std::memory_order_relaxed);
  l->capacity = capacity;
  l->sender = sender;
  l->magic = lane_magic;
  return l;
}

void lane_writer::link(std::uint64_t next) noexcept {
  const std::uint64_t tail = tail_;
  const record_header marker{link_size, record_check_of(link_size, tail)};
  std::memcpy(lane_data(lane_) + ring_offset(tail, lane_->capacity), &marker, sizeof marker);
  lane_->next_lane.store(next, std::memory_order_release);
  tail_ = tail + link_size;
  lane_->tail.store(tail_, std::memory_order_release);
}

read_result lane_peek(const lane* l) noexcept {
  std::uint64_t tail = 0;
  return lane_peek(l, tail);
}

namespace {

// Whether `header`, read at byte count `position`, is one the producer wrote
// there and fits in what is published up to `tail`.
bool sound(const record_header& header, std::uint64_t position, std::uint64_t tail, std::uint64_t capacity) noexcept {
  if (header.check != record_check_of(header.size, position)) return false;
  const std::uint64_t room = capacity - ring_offset(position, capacity);
  if (header.size == wrap_size) return room <= tail - position;
  return header.size % 8 == 0 && header.size >= link_size && header.size <= lane_max_record(capacity) &&
         header.size <= room && header.size <= tail - position;
}

// The first position after `from` at which a sound header starts, or `tail`.
// Counts are compared as distances from `from` (at most a ring: the caller
// checked), so counts near 2^64 from a corrupt tail cannot wrap the scan.
std::uint64_t next_sound(const lane* l, std::uint64_t from, std::uint64_t tail) noexcept {
  const std::uint64_t capacity = l->capacity;
  const std::uint64_t span = tail - from;
  for (std::uint64_t step = 8 - (from & 7); step < span; step += 8) {
    const std::uint64_t position = from + step;
    record_header header;
    std::memcpy(&header, lane_data(l) + ring_offset(position, capacity), sizeof header);
    if (sound(header, position, tail, capacity)) return position;
  }
  return tail;
}

}  // namespace

read_result lane_peek(const lane* l, std::uint64_t& cached_tail) noexcept {
  const std::uint64_t capacity = l->capacity;
  (void)lane_has_more(l, cached_tail);
  std::uint64_t head = l->head.load(std::memory_order_relaxed);
  const std::uint64_t tail = cached_tail;
  const std::byte* data = lane_data(l);
  if (tail - head > capacity || capacity % 8 != 0 || capacity == 0) {
    const std::uint64_t now = l->tail.load(std::memory_order_acquire);
    return {read_status::corrupt, {}, head, now,
            "head " + std::to_string(head) + " and tail " + std::to_string(now) +
                " are more than a ring apart; dropping the lane's unread bytes"};
  }
  // Skips to the next header that is sound where it stands.
  auto corrupt = [&](std::string problem) {
    const std::uint64_t next = next_sound(l, head, tail);
    problem += next < tail ? "; skipped " + std::to_string(next - head) + " bytes to the next sound record"
                           : "; dropped the lane's " + std::to_string(tail - head) + " unread bytes";
    return read_result{read_status::corrupt, {}, head, next, std::move(problem)};
  };
  for (int hops = 0; hops < 2; ++hops) {
    if (head == tail) return {read_status::empty, {}, head, head, {}};
    const std::uint64_t offset = ring_offset(head, capacity);
    if (offset % 8 != 0) return corrupt("misaligned read position " + std::to_string(head));
    record_header header;
    std::memcpy(&header, data + offset, sizeof header);
    if (header.check != record_check_of(header.size, head)) {
      return corrupt("record header (length " + std::to_string(header.size) + ") fails its check word");
    }
    if (!sound(header, head, tail, capacity)) {
      return corrupt("record length " + std::to_string(header.size) + " out of bounds");
    }
    if (header.size == wrap_size) {
      head += capacity - offset;  // the wrap marker spans to the end of data
      continue;
    }
    if (header.size == link_size) return {read_status::link, {}, head, head + link_size, {}};
    return {read_status::record,
            {data + offset + sizeof header, header.size - sizeof header},
            head,
            head + header.size,
            {}};
  }
  return corrupt("two wrap markers in a row");
}

std::uint32_t lane_commit(lane* l, std::uint64_t next) noexcept {
  l->head.store(next, std::memory_order_release);
  // Pairs with the producer's wait_fence between setting producer_waiting
  // and re-reading head: one of the two sides always sees the other.
  signal_fence();
  const std::uint32_t waiting = l->producer_waiting.load(std::memory_order_relaxed);
  if ((waiting & lane_waits_for_space) == 0) return waiting;
  // Hysteresis: wake a producer blocked on a full lane once a quarter of it
  // is free (or all of it), not after every record: otherwise the two
  // processes hand the CPU back and forth through futex for each message.
  const std::uint64_t used = l->tail.load(std::memory_order_acquire) - next;
  if (used == 0 || l->capacity - used >= l->capacity / 4) {
    l->space_seq.fetch_add(1, std::memory_order_release);
    futex_wake(l->space_seq, 1);
  }
  return waiting;
}

namespace {

eviction eviction_setting() noexcept {
#if defined(__x86_64__)
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0 || (ebx & (1U << 23)) == 0) return eviction::off;
  const char* setting = std::getenv("PROCACTOR_EVICT_READ");
  if (setting == nullptr || *setting == '\0') return eviction::adaptive;
  return std::string_view(setting) == "0" ? eviction::off : eviction::on;
#else
  return eviction::off;
#endif
}

}  // namespace

eviction lane_eviction() noexcept {
  static const eviction setting = eviction_setting();
  return setting;
}

void lane_evict(const lane* l, std::uint64_t from, std::uint64_t to) noexcept {
#if defined(__x86_64__)
  const std::uint64_t capacity = l->capacity;  // shared memory: checked again, not trusted
  if (capacity == 0 || to - from > capacity) return;
  const std::byte* data = lane_data(l);
  for (std::uint64_t line = from & ~std::uint64_t{cache_line - 1}; line + cache_line <= to; line += cache_line) {
    // The ring starts on a line; where its capacity is not a multiple of 64
    // a line of the count is not one of the ring's, and the line flushed
    // may still hold unread bytes: they are read again from memory. A
    // flush changes where bytes are cached, never what they are.
    const std::byte* at = data + ring_offset(line, capacity);
    asm volatile("clflushopt %0" : : "m"(*reinterpret_cast<const volatile char*>(at)));
  }
#else
  (void)l;
  (void)from;
  (void)to;
#endif
}

void lane_resync(lane* l) noexcept { (void)lane_commit(l, l->tail.load(std::memory_order_acquire)); }

}  // namespace procactor::detail
