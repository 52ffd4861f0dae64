#include "lane.hpp"

#include <new>

#include "futex.hpp"

namespace procactor::detail {

lane* lane_create(void* memory, std::uint64_t capacity, std::uint32_t sender) noexcept {
  auto* l = new (memory) lane{};
  l->tail.store(0, std::memory_order_relaxed);
  l->head.store(0, std::memory_order_relaxed);
  l->space_seq.store(0, std::memory_order_relaxed);
  l->producer_waiting.store(0, std::memory_order_relaxed);
  l->capacity = capacity;
  l->sender = sender;
  l->magic = lane_magic;
  return l;
}

std::byte* lane_writer::reserve(std::size_t size) noexcept {
  const std::uint64_t capacity = lane_->capacity;
  if (size > lane_max_record(capacity) || size < sizeof(record_header)) return nullptr;
  // Only this process writes tail, so a relaxed load sees our own last store.
  const std::uint64_t tail = lane_->tail.load(std::memory_order_relaxed);
  const std::uint64_t offset = tail % capacity;
  const std::uint64_t contiguous = capacity - offset;
  const std::uint64_t needed = size <= contiguous ? size : contiguous + size;
  if (capacity - (tail - cached_head_) < needed) {
    cached_head_ = lane_->head.load(std::memory_order_acquire);
    if (capacity - (tail - cached_head_) < needed) return nullptr;
  }
  std::byte* data = lane_data(lane_);
  std::byte* at = data + offset;
  if (size > contiguous) {
    record_header wrap{wrap_size, wrap_size ^ record_check};
    std::memcpy(at, &wrap, sizeof wrap);
    at = data;
  }
  record_header header{static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(size) ^ record_check};
  std::memcpy(at, &header, sizeof header);
  pending_tail_ = tail + needed;
  return at + sizeof header;
}

void lane_writer::publish() noexcept { lane_->tail.store(pending_tail_, std::memory_order_release); }

read_result lane_peek(const lane* l) noexcept {
  std::uint64_t tail = 0;
  return lane_peek(l, tail);
}

read_result lane_peek(const lane* l, std::uint64_t& cached_tail) noexcept {
  const std::uint64_t capacity = l->capacity;
  std::uint64_t head = l->head.load(std::memory_order_relaxed);
  if (cached_tail <= head) cached_tail = l->tail.load(std::memory_order_acquire);
  const std::uint64_t tail = cached_tail;
  const std::byte* data = lane_data(l);
  auto corrupt = [&](std::string problem) {
    return read_result{read_status::corrupt, {}, head, tail, std::move(problem)};
  };
  if (tail - head > capacity) return corrupt("tail runs more than a ring ahead of head");
  for (int hops = 0; hops < 2; ++hops) {
    if (head == tail) return {read_status::empty, {}, head, head, {}};
    const std::uint64_t offset = head % capacity;
    if (offset % 8 != 0 || capacity - offset < sizeof(record_header)) {
      return corrupt("misaligned record position");
    }
    record_header header;
    std::memcpy(&header, data + offset, sizeof header);
    if ((header.size ^ record_check) != header.check) {
      return corrupt("record length " + std::to_string(header.size) + " fails its check word");
    }
    if (header.size == wrap_size) {
      head += capacity - offset;  // the wrap marker spans to the end of data
      continue;
    }
    if (header.size % 8 != 0 || header.size < sizeof(record_header) ||
        header.size > lane_max_record(capacity) || header.size > capacity - offset ||
        header.size > tail - head) {
      return corrupt("record length " + std::to_string(header.size) + " out of bounds");
    }
    return {read_status::record,
            {data + offset + sizeof header, header.size - sizeof header},
            head,
            head + header.size,
            {}};
  }
  return corrupt("two wrap markers in a row");
}

void lane_commit(lane* l, std::uint64_t next) noexcept {
  l->head.store(next, std::memory_order_release);
  // Pairs with the producer's fence between setting producer_waiting and
  // re-reading head: one of the two sides always sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (l->producer_waiting.load(std::memory_order_relaxed) == 0) return;
  // Hysteresis: wake a producer blocked on a full lane once a quarter of it
  // is free (or all of it), not after every record: otherwise the two
  // processes hand the CPU back and forth through futex for each message.
  const std::uint64_t used = l->tail.load(std::memory_order_acquire) - next;
  if (used == 0 || l->capacity - used >= l->capacity / 4) {
    l->space_seq.fetch_add(1, std::memory_order_release);
    futex_wake(l->space_seq, 1);
  }
}

void lane_resync(lane* l) noexcept { lane_commit(l, l->tail.load(std::memory_order_acquire)); }

}  // namespace procactor::detail
