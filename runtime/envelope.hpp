// The envelope: what precedes every payload in a lane record.
//
//   record_header | envelope | payload (inline) or blob_ref (flag_blob)
//
// A payload too large for a lane travels in a blob: a shared-memory segment
// of its own, named in the record, made by the sender and removed by the
// receiver when it commits the record (or by the supervisor at the end of
// the run, for a sender that died before publishing).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "lane.hpp"
#include "procactor/message.hpp"

namespace procactor::detail {

struct envelope {
  std::uint64_t type;
  std::uint64_t correlation;
  std::uint32_t sender;
  std::uint32_t flags;
  std::uint32_t length;  // bytes after the envelope
  std::uint32_t check;   // envelope_check_of(): a stray or torn envelope fails this
};
static_assert(std::is_standard_layout_v<envelope>);
static_assert(sizeof(envelope) == 32);

// Flags the runtime sets (the user-visible ones are in procactor/detail/core.hpp).
inline constexpr std::uint32_t flag_blob = 1U << 8;       // payload is a blob_ref
inline constexpr std::uint32_t flag_system = 1U << 9;     // a runtime message, not the user's
inline constexpr std::uint32_t flag_reply = 1U << 10;     // a reply: `type` is its value's reply type id
inline constexpr std::uint32_t status_shift = 24;         // replies: errc in the top byte

inline constexpr std::uint32_t envelope_check_of(const envelope& e) noexcept {
  return e.length ^ static_cast<std::uint32_t>(e.type) ^ static_cast<std::uint32_t>(e.type >> 32) ^
         e.flags ^ 0xE7E10BE5U;
}

struct blob_ref {
  std::uint64_t size;  // payload bytes in the blob
  char name[48];       // shared-memory name, NUL-terminated
};
static_assert(std::is_standard_layout_v<blob_ref>);

// Runtime message types: names in the "procactor." namespace cannot collide
// with a user's registered names in practice (the registry aborts if they do).
inline constexpr type_id close_type = fnv1a64("procactor.close");
inline constexpr type_id dead_letter_type = fnv1a64("procactor.dead_letter");

struct parsed_record {
  envelope head;
  std::span<const std::byte> body;  // inline payload, or the blob_ref bytes
};

// parse_record's whole check: also what is wrong, and a blob's reference.
std::optional<parsed_record> parse_record_checked(std::span<const std::byte> record, std::string& problem) noexcept;

// Bounds-checks an envelope inside a record; nullopt with `problem` set when
// the record cannot be trusted. A sound inline record is taken here, in a
// few instructions; everything else goes through parse_record_checked.
inline std::optional<parsed_record> parse_record(std::span<const std::byte> record, std::string& problem) noexcept {
  if (record.size() >= sizeof(envelope)) {
    envelope head;
    std::memcpy(&head, record.data(), sizeof head);
    if (head.check == envelope_check_of(head) && head.length <= record.size() - sizeof(envelope) &&
        (head.flags & flag_blob) == 0) {
      return parsed_record{head, record.subspan(sizeof(envelope), head.length)};
    }
  }
  return parse_record_checked(record, problem);
}

// Bytes of a record (header included) for a payload of `length` bytes.
inline std::size_t record_size_for(std::size_t length) noexcept {
  return align8(sizeof(record_header) + sizeof(envelope) + length);
}

}  // namespace procactor::detail
