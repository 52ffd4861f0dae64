// Encoding and decoding of payloads with cereal.
//
// docs/design.md §9: a std::ostream built per message costs ~100 ns, a reused one
// ~34 ns. These archives skip the stream altogether and write into a reused
// byte buffer, so the per-message cost is the fields' memcpys.
#pragma once

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace procactor::detail {

// cereal archives over plain bytes, in BinaryOutputArchive's wire format but
// without a std::ostream: a field is one inline memcpy, not a virtual
// streambuf call. A new archive per message (cheap: no stream inside) so
// that cereal's per-archive tables (shared_ptr ids, class versions) never
// leak from one message into the next.
// A byte buffer that keeps its storage between messages; growing it is the
// only time it allocates, and it never zero-fills what it is about to write.
class byte_buffer {
 public:
  void clear() noexcept { size_ = 0; }
  void append(const void* data, std::size_t size) {
    if (size == 0) return;  // an empty vector's data() may be null: no memcpy from it
    if (size > capacity_ - size_) grow(size);
    std::memcpy(storage_.get() + size_, data, size);
    size_ += size;
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {storage_.get(), size_}; }

 private:
  void grow(std::size_t more) {
    const std::size_t capacity = std::max<std::size_t>({256, capacity_ * 2, size_ + more});
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (size_ != 0) std::memcpy(bigger.get(), storage_.get(), size_);
    storage_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<std::byte[]> storage_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

class byte_output_archive : public cereal::OutputArchive<byte_output_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit byte_output_archive(byte_buffer& out) : OutputArchive(this), out_(out) {}

  void save_binary(const void* data, std::size_t size) { out_.append(data, size); }

 private:
  byte_buffer& out_;
};

// Reads from a span; reading past its end, or a container size larger than
// what is left, throws cereal::Exception instead of reading out of bounds or
// allocating what a corrupt length asks for.
class byte_input_archive : public cereal::InputArchive<byte_input_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit byte_input_archive(std::span<const std::byte> bytes)
      : InputArchive(this), at_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  void load_binary(void* data, std::size_t size) {
    if (size > remaining()) {
      throw cereal::Exception("payload truncated: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(remaining()) + " left");
    }
    if (size == 0) return;  // into an empty vector's data(), which may be null
    std::memcpy(data, at_, size);
    at_ += size;
  }
  [[nodiscard]] std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

 private:
  const std::byte* at_;
  const std::byte* end_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(byte_output_archive& archive, const T& value) {
  archive.save_binary(std::addressof(value), sizeof(T));
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    byte_input_archive& archive, T& value) {
  archive.load_binary(std::addressof(value), sizeof(T));
}
// A bool is one byte on the wire, 0 or 1; any other byte copied into a bool
// would be an invalid object (undefined behaviour wherever it is read).
inline void CEREAL_LOAD_FUNCTION_NAME(byte_input_archive& archive, bool& value) {
  std::uint8_t byte = 0;
  archive.load_binary(&byte, 1);
  if (byte > 1) throw cereal::Exception("a bool encoded as " + std::to_string(byte));
  value = byte != 0;
}
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(byte_input_archive, byte_output_archive)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& archive, cereal::NameValuePair<T>& pair) {
  archive(pair.value);
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(byte_output_archive& archive, const cereal::SizeTag<T>& tag) {
  archive(tag.size);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(byte_input_archive& archive, cereal::SizeTag<T>& tag) {
  archive(tag.size);
  // Every element takes at least a byte: a larger count is a corrupt length.
  if (static_cast<std::uint64_t>(tag.size) > archive.remaining()) {
    throw cereal::Exception("container of " + std::to_string(tag.size) + " elements in " +
                            std::to_string(archive.remaining()) + " bytes");
  }
}
// Vectors: cereal's own loader resizes to the count it reads before reading
// any element, so a corrupt count of N costs N * sizeof(T) bytes at once.
// Here memory follows what actually decodes: scalars are checked against the
// bytes left, other elements are appended one by one.
template <class T, class A>
  requires(!std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(byte_input_archive& archive, std::vector<T, A>& vector) {
  cereal::size_type size = 0;
  archive(cereal::make_size_tag(size));
  if constexpr (std::is_arithmetic_v<T>) {
    if (size > archive.remaining() / sizeof(T)) {
      throw cereal::Exception("vector of " + std::to_string(size) + " elements of " + std::to_string(sizeof(T)) +
                              " bytes in " + std::to_string(archive.remaining()) + " bytes");
    }
    vector.resize(static_cast<std::size_t>(size));
    archive.load_binary(vector.data(), static_cast<std::size_t>(size) * sizeof(T));
  } else {
    vector.clear();
    for (cereal::size_type i = 0; i < size; ++i) {
      vector.emplace_back();
      archive(vector.back());
    }
  }
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(byte_output_archive& archive, const cereal::BinaryData<T>& data) {
  archive.save_binary(data.data, static_cast<std::size_t>(data.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(byte_input_archive& archive, cereal::BinaryData<T>& data) {
  archive.load_binary(data.data, static_cast<std::size_t>(data.size));
}

// An output buffer per thread, reused: it is cleared, never shrunk.
class encoder {
 public:
  template <class... T>
  std::span<const std::byte> encode(const T&... values) {
    buffer_.clear();
    byte_output_archive archive(buffer_);
    archive(values...);
    return buffer_.bytes();
  }

 private:
  byte_buffer buffer_;
};

// The calling thread's encoder. The span it returns stays valid until the
// thread's next encode.
encoder& thread_encoder();

template <class T>
void decode_into(std::span<const std::byte> bytes, T& value) {
  byte_input_archive archive(bytes);
  archive(value);
}

template <class T>
T decode(std::span<const std::byte> bytes) {
  T value{};
  decode_into(bytes, value);
  return value;
}

}  // namespace procactor::detail

CEREAL_REGISTER_ARCHIVE(procactor::detail::byte_output_archive)
CEREAL_REGISTER_ARCHIVE(procactor::detail::byte_input_archive)
CEREAL_SETUP_ARCHIVE_TRAITS(procactor::detail::byte_input_archive, procactor::detail::byte_output_archive)
