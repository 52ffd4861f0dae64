// fuzz-record: parse_record, the envelope check every record read from a
// lane goes through, over arbitrary bytes. A record it accepts must be one
// the runtime can use without another check: its payload inside the record
// and exactly `length` long, a blob reference whole and its name
// terminated. A record it refuses must say why.
//
// The input is also read as envelope fields from which a well-formed record
// is built (the check word computed): that one must be accepted, and the
// same record cut one byte short must not.
#include <string>
#include <vector>

#include "envelope.hpp"
#include "fuzz_support.hpp"

using namespace procactor::detail;

namespace {

void check_parse(std::span<const std::byte> record) {
  std::string problem;
  const auto parsed = parse_record(record, problem);
  if (!parsed) {
    fuzz::require(!problem.empty(), "a refused record without a problem");
    return;
  }
  const auto body = parsed->body;
  fuzz::require(body.size() == parsed->head.length, "payload size differs from the envelope's length");
  fuzz::require(body.data() >= record.data() && body.data() + body.size() <= record.data() + record.size(),
                "payload outside the record");
  fuzz::require(record.size() >= sizeof(envelope) && body.data() == record.data() + sizeof(envelope),
                "payload does not follow the envelope");
  fuzz::require(parsed->head.check == envelope_check_of(parsed->head), "accepted an envelope that fails its check");
  if ((parsed->head.flags & flag_blob) != 0) {
    fuzz::require(body.size() == sizeof(blob_ref), "accepted a blob reference of the wrong size");
    blob_ref ref;
    std::memcpy(&ref, body.data(), sizeof ref);
    fuzz::require(std::memchr(ref.name, 0, sizeof ref.name) != nullptr, "accepted an unterminated blob name");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size copy: a read one byte past the record is an ASan report.
  std::vector<std::byte> raw(size);
  if (size != 0) std::memcpy(raw.data(), data, size);
  check_parse(raw);

  fuzz::input in(data, size);
  envelope head{};
  head.type = in.take<std::uint64_t>();
  head.correlation = in.take<std::uint64_t>();
  head.sender = in.take<std::uint32_t>();
  head.flags = in.take<std::uint32_t>() & ~flag_blob;
  const auto payload = in.rest();
  head.length = static_cast<std::uint32_t>(payload.size());
  head.check = envelope_check_of(head);

  // The layout a sender writes: envelope, payload, padding to the record size.
  const std::size_t record_size = record_size_for(payload.size());
  fuzz::require(record_size % 8 == 0, "record_size_for is not a multiple of 8");
  fuzz::require(record_size >= sizeof(record_header) + sizeof(envelope) + payload.size(),
                "record_size_for leaves no room for the payload");
  std::vector<std::byte> record(record_size - sizeof(record_header));
  std::memcpy(record.data(), &head, sizeof head);
  if (!payload.empty()) std::memcpy(record.data() + sizeof head, payload.data(), payload.size());
  std::string problem;
  const auto parsed = parse_record(record, problem);
  fuzz::require(parsed.has_value(), "a well-formed record was refused");
  fuzz::require(parsed->body.size() == payload.size() &&
                    (payload.empty() || std::memcmp(parsed->body.data(), payload.data(), payload.size()) == 0),
                "a well-formed record's payload came back different");
  check_parse(record);

  if (!payload.empty()) {
    const std::vector<std::byte> cut(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(sizeof head + payload.size() - 1));
    std::string why;
    fuzz::require(!parse_record(cut, why).has_value(), "a record one byte short of its length was accepted");
  }
  return 0;
}
