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
#include <optional>
#include <span>
#include <string>
#include <type_traits>

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

// Bounds-checks an envelope inside a record; nullopt with `problem` set when
// the record cannot be trusted.
std::optional<parsed_record> parse_record(std::span<const std::byte> record, std::string& problem) noexcept;

// Bytes of a record (header included) for a payload of `length` bytes.
std::size_t record_size_for(std::size_t length) noexcept;

}  // namespace procactor::detail
