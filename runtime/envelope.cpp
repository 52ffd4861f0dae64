#include "envelope.hpp"

#include <cstring>

#include "lane.hpp"

namespace procactor::detail {

std::optional<parsed_record> parse_record_checked(std::span<const std::byte> record, std::string& problem) noexcept {
  if (record.size() < sizeof(envelope)) {
    problem = "record of " + std::to_string(record.size()) + " bytes is shorter than an envelope";
    return std::nullopt;
  }
  envelope head;
  std::memcpy(&head, record.data(), sizeof head);
  if (head.check != envelope_check_of(head)) {
    problem = "envelope fails its check word";
    return std::nullopt;
  }
  const std::size_t room = record.size() - sizeof(envelope);
  if (head.length > room) {
    problem = "payload length " + std::to_string(head.length) + " exceeds the record's " +
              std::to_string(room) + " bytes";
    return std::nullopt;
  }
  if ((head.flags & flag_blob) != 0) {
    if (head.length != sizeof(blob_ref)) {
      problem = "blob reference of " + std::to_string(head.length) + " bytes";
      return std::nullopt;
    }
    blob_ref ref;
    std::memcpy(&ref, record.data() + sizeof(envelope), sizeof ref);
    if (std::memchr(ref.name, 0, sizeof ref.name) == nullptr) {
      problem = "blob name is not terminated";
      return std::nullopt;
    }
  }
  return parsed_record{head, record.subspan(sizeof(envelope), head.length)};
}

}  // namespace procactor::detail
