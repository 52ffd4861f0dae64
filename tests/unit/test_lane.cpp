#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "envelope.hpp"
#include "lane.hpp"

using namespace procactor::detail;

namespace {

// A lane in ordinary memory: the ring logic does not care where it lives.
struct local_lane {
  explicit local_lane(std::uint64_t capacity)
      : memory(static_cast<std::byte*>(::operator new(sizeof(lane) + capacity, std::align_val_t{64}))),
        l(lane_create(memory, capacity, 7)) {}
  ~local_lane() { ::operator delete(memory, std::align_val_t{64}); }
  local_lane(const local_lane&) = delete;
  local_lane& operator=(const local_lane&) = delete;
  std::byte* memory;
  lane* l;
};

bool write_value(lane_writer& writer, std::uint64_t value, std::size_t size = 16) {
  std::byte* at = writer.reserve(size);
  if (at == nullptr) return false;
  std::memcpy(at, &value, sizeof value);
  writer.publish();
  return true;
}

std::uint64_t read_value(lane* l) {
  read_result r = lane_peek(l);
  REQUIRE(r.status == read_status::record);
  std::uint64_t value;
  std::memcpy(&value, r.record.data(), sizeof value);
  lane_commit(l, r.next);
  return value;
}

}  // namespace

TEST_CASE("an empty lane has nothing to read") {
  local_lane ring(256);
  CHECK(lane_peek(ring.l).status == read_status::empty);
  CHECK(lane_empty(ring.l));
}

TEST_CASE("records come out in the order they went in, across many wrap-arounds") {
  local_lane ring(256);
  lane_writer writer(ring.l);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  // Record sizes that do not divide the capacity force wrap markers.
  const std::size_t sizes[] = {16, 24, 40, 56, 72, 104};
  for (int round = 0; round < 2000; ++round) {
    while (write_value(writer, next_in, sizes[next_in % 6])) ++next_in;
    const int take = 1 + round % 3;
    for (int i = 0; i < take && next_out < next_in; ++i) CHECK(read_value(ring.l) == next_out++);
  }
  while (next_out < next_in) CHECK(read_value(ring.l) == next_out++);
  CHECK(lane_empty(ring.l));
  CHECK(ring.l->tail.load() > 100 * 256);  // it really went round many times
}

TEST_CASE("a full lane refuses a record and takes it once the consumer commits") {
  local_lane ring(256);
  lane_writer writer(ring.l);
  int written = 0;
  while (write_value(writer, static_cast<std::uint64_t>(written), 64)) ++written;
  CHECK(written == 3);  // 256 bytes less the 8 a link marker may need
  CHECK_FALSE(write_value(writer, 99, 64));
  CHECK(read_value(ring.l) == 0);
  CHECK(write_value(writer, 99, 64));
}

TEST_CASE("a record larger than half the lane is refused outright") {
  local_lane ring(256);
  lane_writer writer(ring.l);
  CHECK(writer.reserve(lane_max_record(256) + 8) == nullptr);
  CHECK(writer.reserve(lane_max_record(256)) != nullptr);
}

TEST_CASE("nothing is visible before publish: a writer that dies mid-record leaves no trace") {
  local_lane ring(256);
  {
    lane_writer dying(ring.l);
    std::byte* at = dying.reserve(32);
    REQUIRE(at != nullptr);
    std::memset(at, 0xAB, 24);
    // No publish(): the process died here.
  }
  CHECK(lane_peek(ring.l).status == read_status::empty);
  lane_writer next_incarnation(ring.l);
  CHECK(write_value(next_incarnation, 42));
  CHECK(read_value(ring.l) == 42);
}

TEST_CASE("a writer's next incarnation goes on after what the last one published, past wraps, over nothing unread") {
  // The writer keeps its own copy of `tail` and reads the shared one only
  // when it is made: a restarted producer must still start where its dead
  // incarnation's last publish left the lane, and count room from there.
  local_lane ring(256);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (int incarnation = 0; incarnation < 50; ++incarnation) {
    lane_writer writer(ring.l);
    // Sizes that do not divide the capacity: the lane wraps at different
    // points in different incarnations.
    const int records = 1 + incarnation % 4;
    for (int i = 0; i < records && write_value(writer, next_in, 24 + 8 * (next_in % 5)); ++i) ++next_in;
    // Dies in the middle of one more record: reserved, written, never published.
    if (std::byte* at = writer.reserve(40)) std::memset(at, 0xCD, 32);
    // The consumer takes some of what is there, not all.
    for (int i = 0; i < 1 + incarnation % 2 && next_out < next_in; ++i) CHECK(read_value(ring.l) == next_out++);
  }
  lane_writer last(ring.l);
  while (write_value(last, next_in, 32)) ++next_in;  // fills the lane: what is unread stays
  while (next_out < next_in) CHECK(read_value(ring.l) == next_out++);
  CHECK(lane_empty(ring.l));
  CHECK(ring.l->tail.load() > 4 * 256);  // it went round several times
}

TEST_CASE("a record is redelivered until it is committed") {
  local_lane ring(256);
  lane_writer writer(ring.l);
  REQUIRE(write_value(writer, 5));
  read_result first = lane_peek(ring.l);
  read_result again = lane_peek(ring.l);  // the consumer died before commit
  CHECK(first.position == again.position);
  CHECK(read_value(ring.l) == 5);
  CHECK(lane_empty(ring.l));
}

TEST_CASE("a corrupt length is reported, never trusted") {
  local_lane ring(256);
  lane_writer writer(ring.l);
  REQUIRE(write_value(writer, 1));
  REQUIRE(write_value(writer, 2));

  SUBCASE("a length that fails its check word") {
    record_header bad{48, 0};
    std::memcpy(lane_data(ring.l), &bad, sizeof bad);
    read_result r = lane_peek(ring.l);
    CHECK(r.status == read_status::corrupt);
    CHECK(r.problem.find("check word") != std::string::npos);
  }
  SUBCASE("a length past what was published") {
    record_header bad{120, record_check_of(120, 0)};
    std::memcpy(lane_data(ring.l), &bad, sizeof bad);
    read_result r = lane_peek(ring.l);
    CHECK(r.status == read_status::corrupt);
    CHECK(r.problem.find("out of bounds") != std::string::npos);
  }
  SUBCASE("an unaligned length") {
    record_header bad{13, record_check_of(13, 0)};
    std::memcpy(lane_data(ring.l), &bad, sizeof bad);
    CHECK(lane_peek(ring.l).status == read_status::corrupt);
  }
  SUBCASE("a header that was valid one lap earlier") {
    // Right size, but the check word of the same offset one ring ago.
    record_header stale{16, record_check_of(16, 256)};
    std::memcpy(lane_data(ring.l), &stale, sizeof stale);
    CHECK(lane_peek(ring.l).status == read_status::corrupt);
  }
  SUBCASE("a tail more than a ring ahead") {
    ring.l->tail.store(10'000);
    CHECK(lane_peek(ring.l).status == read_status::corrupt);
  }
  // Resynchronising drops what cannot be trusted and the lane works again.
  lane_resync(ring.l);
  CHECK(lane_empty(ring.l));
  lane_writer after(ring.l);
  REQUIRE(write_value(after, 3));
  CHECK(read_value(ring.l) == 3);
}

TEST_CASE("a damaged record costs that record: the reader skips to the next sound header") {
  local_lane ring(4096);
  lane_writer writer(ring.l);
  for (std::uint64_t v = 0; v < 40; ++v) REQUIRE(write_value(writer, v, 48));
  // Overwrite records 10 and 11 (48 bytes each) with garbage, headers included.
  std::memset(lane_data(ring.l) + 10 * 48, 0x5A, 2 * 48);
  for (std::uint64_t v = 0; v < 10; ++v) CHECK(read_value(ring.l) == v);
  read_result r = lane_peek(ring.l);
  REQUIRE(r.status == read_status::corrupt);
  CHECK(r.next - r.position == 2 * 48);  // exactly the damaged bytes
  CHECK(r.problem.find("skipped 96 bytes") != std::string::npos);
  lane_commit(ring.l, r.next);
  for (std::uint64_t v = 12; v < 40; ++v) CHECK(read_value(ring.l) == v);
  CHECK(lane_empty(ring.l));
}

TEST_CASE("a payload overwritten inside a sound record is found by the envelope check, and only it is lost") {
  local_lane ring(4096);
  lane_writer writer(ring.l);
  // A real record: header, envelope, payload.
  auto put = [&](std::uint64_t value) {
    const std::size_t size = record_size_for(sizeof value);
    std::byte* at = writer.reserve(size);
    REQUIRE(at != nullptr);
    envelope head{1, 0, 7, 0, sizeof value, 0};
    head.check = envelope_check_of(head);
    std::memcpy(at, &head, sizeof head);
    std::memcpy(at + sizeof head, &value, sizeof value);
    writer.publish();
  };
  for (std::uint64_t v = 0; v < 3; ++v) put(v);
  const std::size_t size = record_size_for(8);
  std::memset(lane_data(ring.l) + size + sizeof(record_header), 0xFF, sizeof(envelope));  // record 1's envelope
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 3; ++i) {
    read_result r = lane_peek(ring.l);
    REQUIRE(r.status == read_status::record);
    std::string problem;
    if (auto parsed = parse_record(r.record, problem)) {
      std::uint64_t value;
      std::memcpy(&value, parsed->body.data(), sizeof value);
      got.push_back(value);
    } else {
      CHECK(problem.find("check word") != std::string::npos);
    }
    lane_commit(ring.l, r.next);
  }
  CHECK(got == std::vector<std::uint64_t>{0, 2});
}

TEST_CASE("a full lane links to a larger one and the reader follows the link in order") {
  local_lane small(256);
  local_lane large(1024);
  lane_writer writer(small.l);
  std::uint64_t written = 0;
  while (write_value(writer, written, 64)) ++written;
  CHECK(written == 3);  // 256 bytes less the 8 kept for the link marker
  writer.link(12345);
  CHECK(small.l->next_lane.load() == 12345);
  lane_writer next(large.l);
  while (write_value(next, written, 64)) ++written;
  for (std::uint64_t v = 0; v < 3; ++v) CHECK(read_value(small.l) == v);
  read_result r = lane_peek(small.l);
  CHECK(r.status == read_status::link);
  lane_commit(small.l, r.next);
  CHECK(lane_empty(small.l));
  for (std::uint64_t v = 3; v < written; ++v) CHECK(read_value(large.l) == v);
}

TEST_CASE("a scan for the next sound header near the end of the 64-bit counts ends at tail") {
  local_lane ring(256);
  // Counts this high only come from a corrupt tail; the reader must still
  // finish (fuzz finding F4: the scan used to wrap past 2^64 and run on).
  const std::uint64_t head = ~std::uint64_t{0} - 63;  // 2^64 - 64, 8-aligned
  ring.l->head.store(head);
  ring.l->tail.store(head + 56);  // wraps past 2^64
  std::memset(lane_data(ring.l), 0xEE, 256);
  read_result r = lane_peek(ring.l);
  CHECK(r.status == read_status::corrupt);
  CHECK(r.next == head + 56);
}

TEST_CASE("a ring position is a mask for a power-of-two capacity and the remainder for any other") {
  const std::uint64_t counts[] = {0, 1, 7, 8, 63, 64, 255, 256, 257, 4095, 4096, 123457, ~std::uint64_t{0} - 7};
  for (const std::uint64_t capacity : {std::uint64_t{8}, std::uint64_t{256}, std::uint64_t{4096}, std::uint64_t{1} << 30,
                                       std::uint64_t{24}, std::uint64_t{264}, std::uint64_t{1000}, std::uint64_t{100000}}) {
    for (const std::uint64_t count : counts) {
      CAPTURE(capacity);
      CAPTURE(count);
      CHECK(ring_offset(count, capacity) == count % capacity);
    }
  }
  CHECK(ring_offset(12345, 0) == 0);  // only a corrupt lane has no capacity
}

TEST_CASE("a lane whose capacity is not a power of two keeps order across wrap-arounds, padded records too") {
  local_lane ring(264);  // a multiple of 8, not of 64: the padding meets the end of the ring at odd places
  lane_writer writer(ring.l);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  const std::size_t sizes[] = {16, 40, 48, 64, 72};
  for (int round = 0; round < 2000; ++round) {
    for (;;) {
      std::byte* at = writer.reserve(writer.line_padded(sizes[next_in % 5]));
      if (at == nullptr) break;
      std::memcpy(at, &next_in, sizeof next_in);
      writer.publish();
      ++next_in;
    }
    const int take = 1 + round % 3;
    for (int i = 0; i < take && next_out < next_in; ++i) CHECK(read_value(ring.l) == next_out++);
  }
  while (next_out < next_in) CHECK(read_value(ring.l) == next_out++);
  CHECK(lane_empty(ring.l));
  CHECK(ring.l->tail.load() > 100 * 264);
}
