// procactor-fuzz-seeds OUTDIR: writes the generated seed inputs of
// fuzz-lane, fuzz-record and fuzz-codec under OUTDIR/<target>/ (run by
// make_corpus.sh). Seeds are valid inputs, built with the real writer and
// encoder, plus the edge cases a fuzzer is slow to stumble on; the output
// is the same on every run, so regenerating the corpus changes nothing.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "codec_types.hpp"
#include "envelope.hpp"
#include "fuzz_support.hpp"

using namespace procactor::detail;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<std::uint8_t>;

template <class T>
void put(bytes& out, const T& value) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}

void write_file(const fs::path& dir, const std::string& name, const bytes& content) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

// A raw-mode fuzz-lane input holding the lane's current head, tail and data.
bytes raw_lane_input(const fuzz::heap_lane& ring) {
  bytes out;
  put(out, fuzz::lane_mode_raw);
  put(out, static_cast<std::uint16_t>(ring.capacity()));
  const std::uint64_t head = ring.get()->head.load();
  put(out, head);
  put(out, ring.get()->tail.load() - head);
  put(out, std::uint8_t{1});
  const auto* data = reinterpret_cast<const std::uint8_t*>(ring.data());
  out.insert(out.end(), data, data + ring.capacity());
  return out;
}

// Writes records of `sizes` (whole records, header included); when the ring
// is full the oldest record is read first, so head moves on and later
// records wrap. Then reads `consume` more.
void fill(fuzz::heap_lane& ring, std::initializer_list<std::size_t> sizes, std::size_t consume) {
  lane_writer writer(ring.get());
  std::uint64_t seq = 0;
  for (std::size_t size : sizes) {
    std::byte* at = writer.reserve(size);
    while (at == nullptr) {
      const read_result oldest = lane_peek(ring.get());
      if (oldest.status != read_status::record) throw std::runtime_error("a seed lane is too small for its records");
      lane_commit(ring.get(), oldest.next);
      at = writer.reserve(size);
    }
    for (std::size_t i = 0; i + sizeof(record_header) < size; ++i) at[i] = std::byte{fuzz::pattern_byte(seq, i)};
    writer.publish();
    ++seq;
  }
  for (std::size_t i = 0; i < consume; ++i) lane_commit(ring.get(), lane_peek(ring.get()).next);
}

void lane_seeds(const fs::path& dir) {
  {
    fuzz::heap_lane ring(256, 1);
    write_file(dir, "raw-empty", raw_lane_input(ring));
    fill(ring, {16, 24, 40}, 0);
    write_file(dir, "raw-three-records", raw_lane_input(ring));
  }
  {
    // Head well into the ring, so the last record needs a wrap marker.
    fuzz::heap_lane ring(256, 1);
    fill(ring, {64, 64, 64, 32, 96}, 0);
    write_file(dir, "raw-wrap-marker", raw_lane_input(ring));
  }
  {
    fuzz::heap_lane ring(512, 1);
    fill(ring, {lane_max_record(512), lane_max_record(512) - 16}, 0);
    write_file(dir, "raw-nearly-full", raw_lane_input(ring));
  }
  {
    // Counts close to 2^64: positions are compared as distances.
    fuzz::heap_lane ring(128, 1);
    ring.get()->head.store(std::numeric_limits<std::uint64_t>::max() - 63);
    ring.get()->tail.store(std::numeric_limits<std::uint64_t>::max() - 63);
    fill(ring, {16, 32, 48}, 1);
    write_file(dir, "raw-counts-wrap", raw_lane_input(ring));
  }
  {
    fuzz::heap_lane ring(256, 1);
    fill(ring, {32, 32}, 0);
    const record_header bad{24, 24 ^ record_check ^ 1U};
    std::memcpy(ring.data(), &bad, sizeof bad);
    write_file(dir, "raw-bad-check-word", raw_lane_input(ring));
  }
  {
    // A script: writes of assorted sizes, reads, a re-read, a writer that
    // dies before publishing, then a stray byte flip.
    bytes out;
    put(out, fuzz::lane_mode_script);
    put(out, std::uint16_t{28});  // capacity 256
    for (std::uint16_t size : {1, 2, 5, 9, 3, 15, 7}) {
      put(out, std::uint8_t{0});
      put(out, size);
    }
    put(out, std::uint8_t{1 | (3 << 2)});  // read 4
    put(out, std::uint8_t{2});             // re-read
    put(out, std::uint8_t{0x30});          // write, die before publishing
    put(out, std::uint16_t{4});
    for (std::uint16_t size : {12, 6, 15, 2}) {
      put(out, std::uint8_t{0});
      put(out, size);
    }
    put(out, std::uint8_t{1 | (7 << 2)});  // read 8
    write_file(dir, "script-round-trip", out);
    put(out, std::uint8_t{3});  // flip a byte of the ring
    put(out, std::uint16_t{8});
    put(out, std::uint8_t{0x40});
    put(out, std::uint8_t{1 | (7 << 2)});
    write_file(dir, "script-flip", out);
  }
  {
    // A script that fills the lane, links a successor, then drains it all.
    bytes out;
    put(out, fuzz::lane_mode_script);
    put(out, std::uint16_t{12});  // capacity 128
    for (std::uint16_t size : {6, 2, 4, 1}) {
      put(out, std::uint8_t{0});
      put(out, size);
    }
    put(out, std::uint8_t{0xF2});  // link
    put(out, std::uint64_t{1} << 20);
    put(out, std::uint8_t{1 | (7 << 2)});  // read 8: the records, then the link
    write_file(dir, "script-link", out);
  }
}

bytes record_bytes(const envelope& head, const bytes& body) {
  bytes out;
  put(out, head);
  out.insert(out.end(), body.begin(), body.end());
  const std::size_t padded = record_size_for(body.size()) - sizeof(record_header);
  out.resize(padded, 0);
  return out;
}

envelope make_envelope(procactor::type_id type, std::uint32_t flags, std::size_t length) {
  envelope head{type, 42, 3, flags, static_cast<std::uint32_t>(length), 0};
  head.check = envelope_check_of(head);
  return head;
}

void record_seeds(const fs::path& dir) {
  const bytes text{'h', 'e', 'l', 'l', 'o'};
  write_file(dir, "inline", record_bytes(make_envelope(procactor::fnv1a64("fuzzmsg::Text"), 0, text.size()), text));
  write_file(dir, "empty-payload", record_bytes(make_envelope(procactor::fnv1a64("fuzzmsg::Text"), flag_system, 0), {}));
  blob_ref ref{1 << 20, {}};
  std::memcpy(ref.name, "procactor-1-0123456789abcdef-b1", 32);
  bytes blob(sizeof ref);
  std::memcpy(blob.data(), &ref, sizeof ref);
  write_file(dir, "blob", record_bytes(make_envelope(procactor::fnv1a64("fuzzmsg::Text"), flag_blob, blob.size()), blob));
  std::memset(ref.name, 'x', sizeof ref.name);
  std::memcpy(blob.data(), &ref, sizeof ref);
  write_file(dir, "blob-unterminated",
             record_bytes(make_envelope(procactor::fnv1a64("fuzzmsg::Text"), flag_blob, blob.size()), blob));
  const envelope longer = make_envelope(procactor::fnv1a64("fuzzmsg::Text"), 0, 4096);
  write_file(dir, "length-past-record", record_bytes(longer, text));
}

template <class T>
void codec_seed(const fs::path& dir, const std::string& name, std::uint8_t type, const T& value) {
  bytes out{type};
  const auto encoded = thread_encoder().encode(value);
  const auto* p = reinterpret_cast<const std::uint8_t*>(encoded.data());
  out.insert(out.end(), p, p + encoded.size());
  write_file(dir, name, out);
}

void codec_seeds(const fs::path& dir) {
  using namespace fuzzmsg;
  const Inner inner{"inner", {1, 2, 3}, std::string("note")};
  codec_seed(dir, "text", 0, Text{"Hello, world"});
  codec_seed(dir, "text-empty", 0, Text{});
  codec_seed(dir, "numbers", 1, Numbers{{1, -2, 1LL << 40}, {0.5, -1e300}, {true, false, true}, {1, 2, 3}});
  codec_seed(dir, "nested", 2, Nested{{inner, Inner{"b", {}, std::nullopt}}, {7, inner}, {{"a", "b"}, {}, {"c"}}});
  codec_seed(dir, "maps", 3, Maps{{{"x", 1}, {"y", 2}}, {{9, inner}}, {{"k", {1, 2, 3}}}});
  codec_seed(dir, "refs", 4, Refs{procactor::ActorRef(3), {procactor::ActorRef(1), procactor::ActorRef(2)},
                                  procactor::ActorRef(5), 17});
  codec_seed(dir, "refs-empty", 4, Refs{});
  codec_seed(dir, "choice-string", 5, Choice{std::string("v"), {1, "t", 2.5}});
  codec_seed(dir, "choice-inner", 5, Choice{inner, {0, "", 0.0}});
  // Length prefixes far beyond the payload: decoding must refuse them, not
  // allocate what they ask for.
  bytes huge_string{0};
  put(huge_string, std::uint64_t{1} << 60);
  huge_string.insert(huge_string.end(), 16, 'a');
  write_file(dir, "edge-string-length-2-60", huge_string);
  bytes huge_vector{2};
  put(huge_vector, std::uint64_t{1} << 60);
  write_file(dir, "edge-vector-length-2-60", huge_vector);
  bytes max_map{3};
  put(max_map, std::numeric_limits<std::uint64_t>::max());
  write_file(dir, "edge-map-length-max", max_map);
  bytes bad_variant{5};
  put(bad_variant, std::int32_t{7});  // index past the alternatives
  write_file(dir, "edge-variant-index", bad_variant);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUTDIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  try {
    lane_seeds(out / "fuzz-lane");
    record_seeds(out / "fuzz-record");
    codec_seeds(out / "fuzz-codec");
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << '\n';
    return 1;
  }
  return 0;
}
