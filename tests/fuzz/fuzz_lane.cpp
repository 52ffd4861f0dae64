// fuzz-lane: the consumer's side of a lane (lane_peek / lane_commit) over
// ring bytes, head and tail that anyone could have scribbled: shared memory
// is not trusted. Whatever the bytes, the reader must not crash, must not
// read outside the ring, must only ever return records that lie inside it
// and inside what was published, and must reach "empty" in a bounded number
// of steps, skipping what is corrupt.
//
// A second mode drives a real lane_writer with a script of writes, reads,
// re-reads, writer deaths, a link to a successor lane and stray byte flips,
// and checks what the ring promises: records come out in order and intact,
// then the link marker; a re-read before commit sees the same record; an
// empty ring takes any record up to lane_max_record.
#include <deque>
#include <optional>
#include <string>

#include "fuzz_support.hpp"

using namespace procactor::detail;

namespace {

struct expected_record {
  std::uint64_t seq;
  std::size_t payload;
};

// One peek; checks what holds for any ring contents. Returns the result.
read_result checked_peek(const fuzz::heap_lane& ring, std::uint64_t& cached_tail, bool use_cache) {
  lane* l = ring.get();
  const std::uint64_t head = l->head.load();
  const std::uint64_t tail = l->tail.load();
  read_result r = use_cache ? lane_peek(l, cached_tail) : lane_peek(l);
  switch (r.status) {
    case read_status::empty:
      break;
    case read_status::corrupt:
      fuzz::require(!r.problem.empty(), "a corrupt record without a problem");
      // Where the reader resumes: the next sound header, or tail.
      fuzz::require(r.next - head <= tail - head, "a corrupt record skipped past the published tail");
      break;
    case read_status::record:
      fuzz::require(ring.holds(r.record.data(), r.record.size()), "a record outside the ring");
      // Counts are compared as distances from head: they may wrap 2^64.
      fuzz::require(r.next - head <= tail - head, "a record past the published tail");
      fuzz::require(r.position - head < r.next - head, "a record that does not move head forward");
      fuzz::require(r.record.size() < r.next - r.position, "record bytes larger than its span of the ring");
      break;
    case read_status::link:
      // The end of this lane: the marker must be inside what was published.
      fuzz::require(r.next - head <= tail - head, "a link marker past the published tail");
      break;
  }
  return r;
}

// Reads and commits until empty or corrupt. Every record moves head forward
// by at least 8 bytes of the at most `capacity` published, so more steps
// than this mean the reader is going round in circles.
void drain_any(const fuzz::heap_lane& ring, bool use_cache) {
  std::uint64_t cached_tail = 0;
  const std::uint64_t limit = ring.capacity() / 8 + 4;
  for (std::uint64_t step = 0;; ++step) {
    fuzz::require(step <= limit, "the reader does not reach empty: it loops");
    const read_result r = checked_peek(ring, cached_tail, use_cache);
    if (r.status == read_status::empty) return;
    if (r.status != read_status::record) {
      // A consumer skips what it cannot trust by committing the reader's
      // `next`; it must be a published position ahead of head, or nothing.
      lane* l = ring.get();
      const std::uint64_t head = l->head.load();
      const std::uint64_t tail = l->tail.load();
      if (r.next != head && r.next - head <= tail - head) {
        lane_commit(l, r.next);
        continue;
      }
      return;
    }
    lane_commit(ring.get(), r.next);
  }
}

void raw_ring(fuzz::input& in) {
  const std::uint64_t capacity = in.take<std::uint16_t>() % (fuzz::lane_raw_max_capacity + 1);
  const auto head = in.take<std::uint64_t>();
  const auto ahead = in.take<std::uint64_t>();
  const bool use_cache = (in.take<std::uint8_t>() & 1U) != 0;
  fuzz::heap_lane ring(capacity, 3);
  const auto bytes = in.rest();
  std::memcpy(ring.data(), bytes.data(), std::min<std::size_t>(bytes.size(), capacity));
  ring.get()->head.store(head);
  ring.get()->tail.store(head + ahead);
  drain_any(ring, use_cache);
}

class script {
 public:
  explicit script(std::uint64_t capacity) : ring_(capacity, 5) { writer_.emplace(ring_.get()); }

  void write(std::uint16_t selector, bool die_before_publish) {
    if (linked_) return;  // a producer never writes a lane again once it linked a successor
    const std::uint64_t capacity = ring_.capacity();
    // From a header and 8 bytes up to a little past lane_max_record, so
    // refusals are tried too.
    const std::size_t size = 8 * (2 + selector % (capacity / 8 + 1));
    std::byte* at = writer_->reserve(size);
    if (at == nullptr) {
      if (trusted_ && size <= lane_max_record(capacity) && lane_empty(ring_.get())) {
        fuzz::fail("an empty lane refused a record no larger than lane_max_record");
      }
      return;
    }
    fuzz::require(size <= lane_max_record(capacity), "reserve took a record larger than lane_max_record");
    const std::size_t payload = size - sizeof(record_header);
    fuzz::require(ring_.holds(at, payload), "reserve handed out bytes outside the ring");
    for (std::size_t i = 0; i < payload; ++i) at[i] = std::byte{fuzz::pattern_byte(next_seq_, i)};
    if (die_before_publish) {
      // The producer died here: nothing may show; its next incarnation
      // starts from the shared tail and overwrites these bytes.
      writer_.emplace(ring_.get());
      ++next_seq_;
      return;
    }
    writer_->publish();
    expected_.push_back({next_seq_++, payload});
  }

  void read(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      const read_result r = checked_peek(ring_, cached_tail_, (i & 1U) != 0);
      if (r.status == read_status::empty) {
        if (trusted_) fuzz::require(expected_.empty(), "a published record is missing");
        return;
      }
      if (r.status == read_status::link && trusted_) {
        fuzz::require(linked_, "a link marker that was never written");
        fuzz::require(expected_.empty(), "a link marker read before the records published ahead of it");
        lane_commit(ring_.get(), r.next);
        link_read_ = true;
        return;
      }
      if (r.status != read_status::record) {
        fuzz::require(!trusted_, "a lane written only by lane_writer reads as neither a record nor empty");
        lane* l = ring_.get();
        const std::uint64_t head = l->head.load();
        if (r.next != head && r.next - head <= l->tail.load() - head) lane_commit(l, r.next);
        return;
      }
      if (trusted_) check_front(r);
      lane_commit(ring_.get(), r.next);
    }
  }

  // The consumer died before committing: the next peek sees the same record.
  void reread() {
    std::uint64_t cache = 0;
    const read_result first = lane_peek(ring_.get(), cache);
    const read_result again = lane_peek(ring_.get());
    fuzz::require(first.status == again.status, "a re-read changed status");
    if (first.status != read_status::record) return;
    fuzz::require(first.position == again.position && first.next == again.next &&
                      first.record.data() == again.record.data() && first.record.size() == again.record.size(),
                  "a re-read before commit returned another record");
  }

  // The producer moves on to a bigger lane: a link marker goes after what
  // it published, in the 8 bytes reserve() always leaves free.
  void link(std::uint64_t successor) {
    if (linked_) return;
    writer_->link(successor);
    linked_ = true;
  }

  // A stray write into the ring: from here on only the reader's own
  // guarantees are checked, not the content.
  void flip(std::uint16_t position, std::uint8_t mask) {
    if (mask == 0 || ring_.capacity() == 0) return;
    ring_.data()[position % ring_.capacity()] ^= std::byte{mask};
    trusted_ = false;
  }

  void finish() {
    if (!trusted_) {
      drain_any(ring_, true);
      return;
    }
    read(static_cast<unsigned>(expected_.size()) + 2);
    fuzz::require(expected_.empty(), "records left over after draining");
    fuzz::require(lane_empty(ring_.get()), "an emptied lane does not read as empty");
    if (linked_) {
      fuzz::require(link_read_, "the link marker was never read");
      return;
    }
    // Empty again: the largest record must fit, whatever the wrap position.
    const std::size_t largest = lane_max_record(ring_.capacity()) & ~std::size_t{7};
    fuzz::require(writer_->reserve(largest) != nullptr, "an empty lane refused lane_max_record");
  }

 private:
  void check_front(const read_result& r) {
    fuzz::require(!expected_.empty(), "a record that was never published");
    const expected_record want = expected_.front();
    expected_.pop_front();
    fuzz::require(r.record.size() >= want.payload, "a record shorter than was written");
    for (std::size_t i = 0; i < want.payload; ++i) {
      if (r.record[i] != std::byte{fuzz::pattern_byte(want.seq, i)}) fuzz::fail("a record's bytes changed");
    }
  }

  fuzz::heap_lane ring_;
  std::optional<lane_writer> writer_;
  std::deque<expected_record> expected_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t cached_tail_ = 0;
  bool trusted_ = true;
  bool linked_ = false;
  bool link_read_ = false;
};

void run_script(fuzz::input& in) {
  script s(fuzz::script_capacity(in.take<std::uint16_t>()));
  // Bounded so that one input cannot run for long: libFuzzer's inputs are short anyway.
  for (int op = 0; op < 4096 && !in.done(); ++op) {
    const auto code = in.take<std::uint8_t>();
    switch (code % 4) {
      case 0:
        s.write(in.take<std::uint16_t>(), (code & 0x10U) != 0 && (code & 0x20U) != 0);
        break;
      case 1:
        s.read(1 + (code >> 2) % 8);
        break;
      case 2:
        if ((code & 0xF0U) == 0xF0U) {
          s.link(in.take<std::uint64_t>());
        } else {
          s.reread();
        }
        break;
      default: {
        const auto position = in.take<std::uint16_t>();
        s.flip(position, in.take<std::uint8_t>());
        break;
      }
    }
  }
  s.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  if ((in.take<std::uint8_t>() & 1U) == fuzz::lane_mode_raw) {
    raw_ring(in);
  } else {
    run_script(in);
  }
  return 0;
}
