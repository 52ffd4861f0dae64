// A lane: one sender's single-producer, single-consumer byte ring inside a
// mailbox. A mailbox is a set of lanes, one per sending process slot.
//
// Contract
// --------
// * The producer (the one live process owning the sender slot) owns `tail`
//   and `next_lane`; the consumer (the one live incarnation of the receiving
//   actor) owns `head`. Each sits on its own cache line. Both count bytes
//   since the lane was made and never wrap; a position in `data` is
//   `count % capacity`.
// * A record is 8-byte aligned: a record_header {size, check} followed by an
//   envelope and the payload, and for a record of at most one cache line
//   padding to the end of its line (line_padded; the envelope has the
//   payload's length, so readers ignore it). The check word mixes the size
//   with the record's position, so a header is only valid where it was
//   written: a stray length, or a stale header from an earlier lap, fails
//   it. A record that would not fit before the end of `data` is preceded by
//   a wrap marker (size 0) and written at offset 0.
// * The producer writes the record bytes, then publishes them with one
//   release store of `tail`. The consumer reads `tail` with acquire, handles
//   the record, and only then advances `head` (commit after processing).
//   The producer reads `tail` only when its lane_writer is made; from then
//   on it keeps its own copy (see lane_writer).
// * Growth: a lane starts small. A producer that finds it full, while it is
//   smaller than the mailbox allows, makes a lane twice the size, stores its
//   offset in `next_lane` and publishes a link marker (size 8, header only).
//   It never writes the old lane again. The consumer drains the old lane up
//   to the marker, then moves to the new one (and repoints the mailbox's
//   table at it). The producer always leaves 8 bytes free for that marker.
// * Producer dies mid-record: `tail` was not moved, so the consumer never
//   sees the partial bytes; the sender's next incarnation follows
//   `next_lane` to the newest lane, re-reads `tail` and overwrites them.
//   Consumer dies mid-handler: `head` was not moved, so the restarted
//   consumer reads the same record again.
// * Nothing read from `data` is trusted: size, alignment, check word and the
//   envelope's length are all bounds-checked. A header that fails is
//   reported, and the consumer scans forward in 8-byte steps to the next
//   header whose check word holds at its position: the loss is bounded by
//   the damaged bytes, not the rest of the lane.
// * Waiting: a producer that finds the lane full (and at its largest) sets
//   `producer_waiting` and parks on the futex word `space_seq` with a
//   timeout; the consumer bumps `space_seq` and wakes it after a commit only
//   when that flag is set.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace procactor::detail {

inline constexpr std::size_t cache_line = 64;

struct record_header {
  std::uint32_t size;   // bytes of the whole record, header included; multiple of 8
  std::uint32_t check;  // record_check_of(size, position)
};
inline constexpr std::uint32_t record_check = 0x5A17C0DEU;
inline constexpr std::uint32_t wrap_size = 0;  // a header with size 0 means "go to offset 0"
inline constexpr std::uint32_t link_size = 8;  // a bare header: "go on in next_lane"

// The check word of a header of `size` bytes written at byte count
// `position`: a multiplicative hash of the position, so that neighbouring
// positions differ in many bits.
constexpr std::uint32_t record_check_of(std::uint32_t size, std::uint64_t position) noexcept {
  return size ^ record_check ^ static_cast<std::uint32_t>(((position >> 3) * 0x9E3779B97F4A7C15ULL) >> 32);
}

struct lane {
  alignas(cache_line) std::atomic<std::uint64_t> tail;  // producer-owned
  alignas(cache_line) std::atomic<std::uint64_t> head;  // consumer-owned
  // Consumer-owned: the messages committed from this sender so far, carried
  // on to the sender's next lane when the consumer passes a link marker.
  // Read by the supervisor for the rate of each edge (ActorInfo::inbound).
  std::atomic<std::uint64_t> delivered;
  alignas(cache_line) std::atomic<std::uint32_t> space_seq;  // futex word for a waiting producer
  std::atomic<std::uint32_t> producer_waiting;  // lane_waits_* bits
  alignas(cache_line) std::uint64_t capacity;  // bytes of data; multiple of 8; set once
  std::uint32_t sender;  // the sending slot; set once
  std::uint32_t magic;
  std::atomic<std::uint64_t> next_lane;  // producer-owned: the lane that follows a link marker
  // On a remote slot's lane (a multi-node run): the bytes its gateway has
  // carried to the node that runs the target and the target has not
  // committed there yet, which a least_loaded route counts as queued.
  // Written by the gateway only; 0 on every other lane.
  std::atomic<std::uint64_t> remote_outstanding;
  // `capacity` bytes of data follow, 64-byte aligned.
};
static_assert(std::is_standard_layout_v<lane>);
static_assert(sizeof(lane) % cache_line == 0);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
inline constexpr std::uint32_t lane_magic = 0x1A4E1A4EU;
// producer_waiting: the producer sleeps on space_seq for room in this lane;
// or it waits, on its slot's progress_seq, for its consumer to finish
// something (a least_loaded route out of credit everywhere).
inline constexpr std::uint32_t lane_waits_for_space = 1;
inline constexpr std::uint32_t lane_waits_for_progress = 2;

constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

// Where byte count `count` lies in a ring of `capacity` bytes: a mask where
// the capacity is a power of two, as the runtime's lanes are (a division
// costs tens of cycles, and a round trip took six). 0 for a capacity of 0
// (only a corrupt lane has one).
constexpr std::uint64_t ring_offset(std::uint64_t count, std::uint64_t capacity) noexcept {
  if ((capacity & (capacity - 1)) == 0) return capacity == 0 ? 0 : count & (capacity - 1);
  return count % capacity;
}

// The bytes of this lane's producer its consumer has not committed yet,
// wherever they wait: in the ring, or (remote_outstanding) on another node.
inline std::uint64_t lane_load(const lane* l) noexcept {
  return l->tail.load(std::memory_order_relaxed) - l->head.load(std::memory_order_acquire) +
         l->remote_outstanding.load(std::memory_order_acquire);
}

inline std::byte* lane_data(lane* l) noexcept { return reinterpret_cast<std::byte*>(l + 1); }
inline const std::byte* lane_data(const lane* l) noexcept {
  return reinterpret_cast<const std::byte*>(l + 1);
}

// Makes a lane in `memory` (sizeof(lane) + capacity bytes, 64-byte aligned).
lane* lane_create(void* memory, std::uint64_t capacity, std::uint32_t sender) noexcept;

// The largest record a lane of `capacity` takes inline. Half the ring, so
// that an empty ring always has room for it on one side of the wrap point.
constexpr std::size_t lane_max_record(std::uint64_t capacity) noexcept { return capacity / 2; }

// The producer's process-local view: caches `head` so that the shared line
// is read only when the ring looks full, and keeps its own copy of `tail`,
// which only it writes, so that it never reads that line at all: a send
// that loaded `tail` missed its cache whenever the consumer had read the
// line since the last store (on the development VM; about 250 ns a send
// with the CPUs far apart). One lane_writer per lane and process
// (sender::local_lane): another one made for the same lane, as
// newest_lane() does before the process's own, must not outlive its use.
class lane_writer {
 public:
  explicit lane_writer(lane* l) noexcept
      : lane_(l),
        cached_head_(l->head.load(std::memory_order_acquire)),
        tail_(l->tail.load(std::memory_order_relaxed)) {}

  // Reserves a record of `size` bytes (header included, a multiple of 8) and
  // returns where its bytes go, or nullptr when the ring has no room now.
  // Nothing is visible to the consumer until publish().
  std::byte* reserve(std::size_t size) noexcept;
  // `size`, or for a record of at most one cache line the size that takes
  // the rest of its last line, so that the next record starts on a line of
  // its own. A record of one line is then read, and taken back by its
  // producer, as one line: one that straddled two cost a second cache miss
  // on each side of a round trip. A reader of records that carry their own
  // length (envelopes) ignores the padding.
  [[nodiscard]] std::size_t line_padded(std::size_t size) const noexcept;
  // Whether the ring has `bytes` free now (re-reads `head`). A producer
  // that found the ring full waits for more than one record's room: every
  // read of `head` takes its line from the consumer, which writes it for
  // each record, so a producer that resumed for each record of room would
  // slow the consumer down exactly when the consumer is the bottleneck.
  [[nodiscard]] bool has_room(std::uint64_t bytes) noexcept {
    cached_head_ = lane_->head.load(std::memory_order_acquire);
    return lane_->capacity - (tail_ - cached_head_) >= bytes;
  }
  // Makes the reserved record visible: one release store of `tail`.
  void publish() noexcept;
  // Ends this lane: stores `next` (the offset of its successor) and
  // publishes a link marker in the 8 bytes reserve() always leaves free.
  void link(std::uint64_t next) noexcept;
  [[nodiscard]] lane* get() const noexcept { return lane_; }
  // The byte count past the last record published.
  [[nodiscard]] std::uint64_t tail() const noexcept { return tail_; }

 private:
  lane* lane_;
  std::uint64_t cached_head_;
  std::uint64_t tail_;  // == lane_->tail: only this writer stores it
  std::uint64_t pending_tail_ = 0;
};

// Inline: every send makes these three calls.
inline std::byte* lane_writer::reserve(std::size_t size) noexcept {
  const std::uint64_t capacity = lane_->capacity;
  if (size > lane_max_record(capacity) || size <= link_size) return nullptr;
  const std::uint64_t tail = tail_;
  const std::uint64_t offset = ring_offset(tail, capacity);
  const std::uint64_t contiguous = capacity - offset;
  // The link marker's 8 bytes always stay free, so that a full lane can
  // still say where its successor is.
  const std::uint64_t needed = (size <= contiguous ? size : contiguous + size) + link_size;
  if (capacity - (tail - cached_head_) < needed) {
    cached_head_ = lane_->head.load(std::memory_order_acquire);
    if (capacity - (tail - cached_head_) < needed) return nullptr;
  }
  std::byte* data = lane_data(lane_);
  std::byte* at = data + offset;
  std::uint64_t position = tail;
  if (size > contiguous) {
    const record_header wrap{wrap_size, record_check_of(wrap_size, tail)};
    std::memcpy(at, &wrap, sizeof wrap);
    at = data;
    position += contiguous;
  }
  const auto size32 = static_cast<std::uint32_t>(size);
  const record_header header{size32, record_check_of(size32, position)};
  std::memcpy(at, &header, sizeof header);
  pending_tail_ = position + size;
  return at + sizeof header;
}

inline std::size_t lane_writer::line_padded(std::size_t size) const noexcept {
  if (size > cache_line) return size;
  const std::uint64_t capacity = lane_->capacity;
  const std::uint64_t tail = tail_;
  const std::uint64_t contiguous = capacity - ring_offset(tail, capacity);
  const std::uint64_t start = size <= contiguous ? tail : tail + contiguous;  // past a wrap marker
  const std::uint64_t padded = size + (cache_line - (start + size) % cache_line) % cache_line;
  // Not where the padding alone would make the record wrap, nor past what a
  // record may take.
  if ((size <= contiguous && padded > contiguous) || padded > lane_max_record(capacity)) return size;
  return padded;
}

inline void lane_writer::publish() noexcept {
  tail_ = pending_tail_;
  lane_->tail.store(pending_tail_, std::memory_order_release);
}

enum class read_status : std::uint8_t {
  record,
  empty,
  corrupt,  // `problem` says what; `next` is where the next sound header is (or tail)
  link,     // the producer moved on to the lane at `next_lane`; `next` is past the marker
};

struct read_result {
  read_status status;
  std::span<const std::byte> record;  // the bytes after the record_header
  std::uint64_t position = 0;         // head count of this record
  std::uint64_t next = 0;             // the head count after it
  std::string problem;                // for corrupt: what was wrong
};

// The consumer's side. peek() looks at the record at `head` without moving
// it; commit() moves `head` past it and wakes a waiting producer.

// Whether anything is published past `head`, with the consumer's cached
// copy of `tail`: the shared line is read only once the consumer has
// caught up with what it last saw, not for every record (each read after a
// producer's store is a cache miss). Inline: a spinning consumer asks it of
// every lane on every poll.
inline bool lane_has_more(const lane* l, std::uint64_t& cached_tail) noexcept {
  const std::uint64_t head = l->head.load(std::memory_order_relaxed);
  if (cached_tail <= head) cached_tail = l->tail.load(std::memory_order_acquire);
  return cached_tail != head;
}
// Starts fetching the line that the lane's next record will start on, for
// a consumer that waits for it: once the producer has written it, the
// consumer's next look takes that line and `tail`'s in parallel, not one
// after the other (the record's address does not depend on tail). With the
// two CPUs far apart (a cache line's round trip 0.36-0.53 µs) a hot round
// trip went from 1.50 to 1.38 µs (medians, interleaved runs). Done on every
// look it takes each line of a stream to the consumer before the producer
// writes it: a stream of 32-byte messages lost 15 %, so receiver::poll
// keeps it to a consumer that has been waiting.
inline void lane_prefetch_next(const lane* l) noexcept {
  __builtin_prefetch(lane_data(l) + ring_offset(l->head.load(std::memory_order_relaxed), l->capacity));
}
read_result lane_peek(const lane* l) noexcept;
// The same, with the consumer's cached copy of `tail` (see lane_has_more).
read_result lane_peek(const lane* l, std::uint64_t& cached_tail) noexcept;
// Moves `head` to `next`; wakes a producer blocked on the full lane. Returns
// the producer's waiting bits as seen after the commit (lane_waits_*), so
// that the caller can wake a producer that waits for credit elsewhere.
std::uint32_t lane_commit(lane* l, std::uint64_t next) noexcept;
// Takes the lines of `l`'s ring that lie wholly in [from, to) out of every
// CPU cache (clflushopt), once the consumer is done with them: the producer
// writes them again a lap later, and a line it must first take back from
// the consumer's cache costs a cross-core round trip where one from memory
// is prefetched. Whether that pays depends on where the two CPUs are
// (evict_policy in mailbox.hpp decides); lane_eviction() says whether it
// may be used at all.
void lane_evict(const lane* l, std::uint64_t from, std::uint64_t to) noexcept;
// off: the CPU has no clflushopt, or PROCACTOR_EVICT_READ=0; on:
// PROCACTOR_EVICT_READ=1; adaptive: otherwise (the consumer measures).
enum class eviction : std::uint8_t { off, on, adaptive };
eviction lane_eviction() noexcept;
// Drops everything published so far (a lane whose positions cannot be trusted).
void lane_resync(lane* l) noexcept;
[[nodiscard]] inline bool lane_empty(const lane* l) noexcept {
  return l->head.load(std::memory_order_relaxed) == l->tail.load(std::memory_order_acquire);
}

}  // namespace procactor::detail
