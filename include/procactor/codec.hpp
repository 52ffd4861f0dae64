// Encoding and decoding of payloads with cereal's binary archive.
//
// Per DESIGN.md §9 building a std::ostream per message costs ~100 ns while a
// reused one costs ~34 ns, so each thread keeps one output stream and archive
// and only rewinds its buffer between messages.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <istream>
#include <ostream>
#include <span>
#include <streambuf>
#include <vector>

namespace procactor::detail {

// An output buffer that grows and is rewound, never shrunk, between messages.
class growing_buffer final : public std::streambuf {
 public:
  void rewind() noexcept { size_ = 0; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_.data(), size_}; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int_type overflow(int_type ch) override;

 private:
  std::vector<std::byte> data_;
  std::size_t size_ = 0;
};

// A read-only view of bytes as a stream; reading past the end fails the stream,
// which cereal turns into an exception (a truncated payload is an error, not UB).
class view_buffer final : public std::streambuf {
 public:
  view_buffer() = default;
  explicit view_buffer(std::span<const std::byte> bytes) { view(bytes); }
  void view(std::span<const std::byte> bytes) {
    // streambuf's get area is char*, but nothing here ever writes through it.
    auto* begin = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(begin, begin, begin + bytes.size());
  }
};

class encoder {
 public:
  encoder() : stream_(&buffer_), archive_(stream_) {}

  template <class... T>
  std::span<const std::byte> encode(const T&... values) {
    buffer_.rewind();
    archive_(values...);
    return buffer_.bytes();
  }

 private:
  growing_buffer buffer_;
  std::ostream stream_;
  cereal::BinaryOutputArchive archive_;
};

// The calling thread's encoder. The span it returns stays valid until the
// thread's next encode.
encoder& thread_encoder();

// Like encoder: one stream and archive per thread, pointed at each payload.
class decoder {
 public:
  decoder() : stream_(&buffer_), archive_(stream_) {}

  template <class T>
  void decode_into(std::span<const std::byte> bytes, T& value) {
    buffer_.view(bytes);
    stream_.clear();
    archive_(value);
  }

 private:
  view_buffer buffer_;
  std::istream stream_;
  cereal::BinaryInputArchive archive_;
};

decoder& thread_decoder();

template <class T>
T decode(std::span<const std::byte> bytes) {
  T value{};
  thread_decoder().decode_into(bytes, value);
  return value;
}


}  // namespace procactor::detail
