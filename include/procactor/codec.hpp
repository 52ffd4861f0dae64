// Encoding and decoding of payloads with cereal.
//
// docs/design.md §9: a std::ostream built per message costs ~100 ns, a reused one
// ~34 ns. These archives skip the stream altogether and write into a reused
// byte buffer, so the per-message cost is the fields' memcpys.
#pragma once

#include <algorithm>
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
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
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
  // Inlined into every field's write, so that a field of a size known at
  // compile time is a compare, a store and an add rather than a call (an
  // out-of-line copy made the compiler call memcpy for each field).
  [[gnu::always_inline]] void append(const void* data, std::size_t size) {
    if (size == 0) return;  // an empty vector's data() may be null: no memcpy from it
    if (size > capacity_ - size_) [[unlikely]] grow(size);
    std::memcpy(storage_.get() + size_, data, size);
    size_ += size;
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {storage_.get(), size_}; }

 private:
  [[gnu::noinline]] void grow(std::size_t more) {
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
  // Where the next read starts; for fast_input_archive, which hands fields
  // to this archive and goes on after them.
  [[nodiscard]] const std::byte* position() const noexcept { return at_; }
  void seek(const std::byte* at) noexcept { at_ = at; }

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

// What the fast archives below take themselves (the rest goes to cereal).
namespace fast_codec {
template <class T>
inline constexpr bool is_plain_v = std::is_arithmetic_v<T> || std::is_enum_v<T>;
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T, std::allocator<T>>> : std::true_type {};
template <class T>
struct is_array : std::false_type {};
template <class T, std::size_t N>
struct is_array<std::array<T, N>> : std::true_type {};
template <class T>
struct is_tuple : std::false_type {};  // std::tuple and std::pair: their elements in order, as cereal writes them
template <class... T>
struct is_tuple<std::tuple<T...>> : std::true_type {};
template <class T, class U>
struct is_tuple<std::pair<T, U>> : std::true_type {};
template <class T>
struct is_nvp : std::false_type {};
template <class T>
struct is_nvp<cereal::NameValuePair<T>> : std::true_type {};
template <class T>
struct is_size_tag : std::false_type {};
template <class T>
struct is_size_tag<cereal::SizeTag<T>> : std::true_type {};
template <class T>
struct is_binary_data : std::false_type {};
template <class T>
struct is_binary_data<cereal::BinaryData<T>> : std::true_type {};
}  // namespace fast_codec

// Whether cereal has a way to write (read) a T, to be left to it: none is
// a procactor error naming what to add, in place of cereal's own. More
// than one is left to cereal, whose error says so.
// Besides a type's own functions, cereal takes a base_class, a
// virtual_base_class and deferred data itself, and an empty class as no
// bytes.
template <class T>
struct cereal_takes_itself : std::is_empty<T> {};
template <class T>
struct cereal_takes_itself<cereal::base_class<T>> : std::true_type {};
template <class T>
struct cereal_takes_itself<cereal::virtual_base_class<T>> : std::true_type {};
template <class T>
struct cereal_takes_itself<cereal::DeferredData<T>> : std::true_type {};
template <class T>
inline constexpr bool cereal_can_save =
    cereal_takes_itself<T>::value ||
    cereal::traits::detail::count_output_serializers<T, byte_output_archive>::value != 0;
template <class T>
inline constexpr bool cereal_can_load =
    cereal_takes_itself<T>::value || cereal::traits::detail::count_input_serializers<T, byte_input_archive>::value != 0;

// The text of the static_assert of a type neither archive can take; the
// compiler's "required from" lines name the type (T = ...).
#define PROCACTOR_DETAIL_CANNOT_ENCODE(what)                                                                \
  "procactor cannot " what                                                                                  \
  " this type (T below): a message, a reply, a submit's argument or result and "                            \
  "each of their fields needs a member `template <class Archive> void serialize(Archive& ar) { ar(field1, " \
  "field2); }` (or save/load), or a cereal function for it; a standard-library type needs cereal's "        \
  "header for it included (<cereal/types/...>); a pointer cannot be sent, send what it points to"

// The encoder's archive: the same bytes as byte_output_archive (cereal's
// binary format), but without cereal's per-archive machinery (the tables
// for shared pointers, polymorphic types and class versions, made and torn
// down for every message) for what most messages are made of: arithmetic
// values and enums, std::string, vectors and arrays of those, and classes
// with a member serialize(Archive&) or save(Archive&) made of those. Any
// other field (a map, an optional, a shared_ptr, a versioned class, a
// non-member serialize, ...) is handed to a byte_output_archive made on
// first need, which appends to the same buffer: cereal's own code writes
// it, with one set of tables for the whole message.
class fast_output_archive {
 public:
  using is_loading = std::false_type;
  using is_saving = std::true_type;

  explicit fast_output_archive(byte_buffer& out) noexcept : out_(out) {}

  template <class... T>
  fast_output_archive& operator()(T&&... values) {
    (write(values), ...);
    return *this;
  }
  template <class T>
  fast_output_archive& operator&(T&& value) {
    write(value);
    return *this;
  }
  template <class T>
  fast_output_archive& operator<<(T&& value) {
    write(value);
    return *this;
  }
  void saveBinary(const void* data, std::size_t size) { out_.append(data, size); }

 private:
  template <class T>
  void write(const T& value) {
    if constexpr (fast_codec::is_plain_v<T> && !std::is_same_v<T, bool>) {
      out_.append(std::addressof(value), sizeof(T));
    } else if constexpr (std::is_same_v<T, bool>) {
      const std::uint8_t byte = value ? 1 : 0;  // cereal writes a bool as its object byte
      out_.append(&byte, 1);
    } else if constexpr (std::is_same_v<T, std::string>) {
      size(value.size());
      out_.append(value.data(), value.size());
    } else if constexpr (fast_codec::is_vector<T>::value) {
      write_vector(value);
    } else if constexpr (fast_codec::is_array<T>::value) {
      write_array(value);
    } else if constexpr (fast_codec::is_tuple<T>::value) {
      std::apply([this](const auto&... elements) { (write(elements), ...); }, value);
    } else if constexpr (fast_codec::is_nvp<T>::value) {
      write(value.value);
    } else if constexpr (fast_codec::is_size_tag<T>::value) {
      size(value.size);
    } else if constexpr (fast_codec::is_binary_data<T>::value) {
      out_.append(value.data, static_cast<std::size_t>(value.size));
    } else if constexpr (requires(T & t, fast_output_archive & a) { t.serialize(a); }) {
      const_cast<T&>(value).serialize(*this);  // as cereal does for a member serialize
    } else if constexpr (requires(const T& t, fast_output_archive& a) { t.save(a); }) {
      value.save(*this);
    } else if constexpr (cereal_can_save<T>) {
      slow()(value);
    } else {
      static_assert(cereal_can_save<T>, PROCACTOR_DETAIL_CANNOT_ENCODE("encode"));
    }
  }

  void size(std::uint64_t n) { out_.append(&n, sizeof n); }  // cereal::size_type

  template <class V>
  void write_vector(const V& vector) {
    using T = typename V::value_type;
    if constexpr (std::is_same_v<T, bool>) {
      slow()(vector);  // packed bits in memory: cereal's own loop
    } else {
      size(vector.size());
      if constexpr (fast_codec::is_plain_v<T>) {
        out_.append(vector.data(), vector.size() * sizeof(T));
      } else {
        for (const auto& element : vector) write(element);
      }
    }
  }
  template <class A>
  void write_array(const A& array) {
    using T = typename A::value_type;
    if constexpr (fast_codec::is_plain_v<T> && !std::is_same_v<T, bool>) {
      out_.append(array.data(), array.size() * sizeof(T));
    } else {
      for (const auto& element : array) write(element);
    }
  }

  byte_output_archive& slow() {
    if (!slow_) slow_.emplace(out_);
    return *slow_;
  }

  byte_buffer& out_;
  std::optional<byte_output_archive> slow_;
};

// An output buffer per thread, reused: it is cleared, never shrunk.
class encoder {
 public:
  template <class... T>
  std::span<const std::byte> encode(const T&... values) {
    buffer_.clear();
    fast_output_archive archive(buffer_);
    archive(values...);
    return buffer_.bytes();
  }

 private:
  byte_buffer buffer_;
};

// The calling thread's encoder. The span it returns stays valid until the
// thread's next encode.
encoder& thread_encoder();

// The decoder's archive, the counterpart of fast_output_archive: the same
// checks as byte_input_archive (no read past the end, a bool byte is 0 or
// 1, no container count larger than the bytes left) for the same kinds of
// field, without cereal's per-archive tables; any other field is handed to
// a byte_input_archive made on first need, over the same bytes, and
// reading goes on where it stopped.
class fast_input_archive {
 public:
  using is_loading = std::true_type;
  using is_saving = std::false_type;

  explicit fast_input_archive(std::span<const std::byte> bytes) noexcept
      : at_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  template <class... T>
  fast_input_archive& operator()(T&&... values) {
    (read(values), ...);
    return *this;
  }
  template <class T>
  fast_input_archive& operator&(T&& value) {
    read(value);
    return *this;
  }
  template <class T>
  fast_input_archive& operator>>(T&& value) {
    read(value);
    return *this;
  }
  void loadBinary(void* data, std::size_t size) { take(data, size); }
  [[nodiscard]] std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

 private:
  void take(void* data, std::size_t size) {
    if (size > remaining()) truncated(size);
    if (size == 0) return;
    std::memcpy(data, at_, size);
    at_ += size;
  }
  // Out of line: the check inlines into every field's read, the message does not.
  [[noreturn, gnu::cold, gnu::noinline]] void truncated(std::size_t size) const {
    throw cereal::Exception("payload truncated: " + std::to_string(size) + " bytes wanted, " +
                            std::to_string(remaining()) + " left");
  }
  // A container's element count (cereal::size_type); every element takes
  // at least a byte, so a larger count is a corrupt length.
  std::uint64_t count() {
    std::uint64_t n = 0;
    take(&n, sizeof n);
    if (n > remaining()) {
      throw cereal::Exception("container of " + std::to_string(n) + " elements in " + std::to_string(remaining()) +
                              " bytes");
    }
    return n;
  }

  template <class T>
  void read(T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      std::uint8_t byte = 0;
      take(&byte, 1);
      if (byte > 1) throw cereal::Exception("a bool encoded as " + std::to_string(byte));
      value = byte != 0;
    } else if constexpr (fast_codec::is_plain_v<T>) {
      take(std::addressof(value), sizeof(T));
    } else if constexpr (std::is_same_v<T, std::string>) {
      value.resize(static_cast<std::size_t>(count()));
      take(value.data(), value.size());
    } else if constexpr (fast_codec::is_vector<T>::value) {
      read_vector(value);
    } else if constexpr (fast_codec::is_array<T>::value) {
      using E = typename T::value_type;
      if constexpr (fast_codec::is_plain_v<E> && !std::is_same_v<E, bool>) {
        take(value.data(), value.size() * sizeof(E));
      } else {
        for (auto& element : value) read(element);
      }
    } else if constexpr (fast_codec::is_tuple<T>::value) {
      std::apply([this](auto&... elements) { (read(elements), ...); }, value);
    } else if constexpr (fast_codec::is_nvp<T>::value) {
      read(value.value);
    } else if constexpr (fast_codec::is_binary_data<T>::value) {
      take(value.data, static_cast<std::size_t>(value.size));
    } else if constexpr (requires(T & t, fast_input_archive & a) { t.serialize(a); }) {
      value.serialize(*this);
    } else if constexpr (requires(T & t, fast_input_archive & a) { t.load(a); }) {
      value.load(*this);
    } else if constexpr (cereal_can_load<T>) {
      slow(value);
    } else {
      static_assert(cereal_can_load<T>, PROCACTOR_DETAIL_CANNOT_ENCODE("decode"));
    }
  }

  template <class V>
  void read_vector(V& vector) {
    using T = typename V::value_type;
    if constexpr (std::is_same_v<T, bool>) {
      slow(vector);
    } else if constexpr (fast_codec::is_plain_v<T>) {
      const std::uint64_t n = count();
      if (n > remaining() / sizeof(T)) {
        throw cereal::Exception("vector of " + std::to_string(n) + " elements of " + std::to_string(sizeof(T)) +
                                " bytes in " + std::to_string(remaining()) + " bytes");
      }
      vector.resize(static_cast<std::size_t>(n));
      take(vector.data(), vector.size() * sizeof(T));
    } else {
      // Memory follows what decodes: one element at a time.
      const std::uint64_t n = count();
      vector.clear();
      for (std::uint64_t i = 0; i < n; ++i) {
        vector.emplace_back();
        read(vector.back());
      }
    }
  }

  template <class T>
  void slow(T& value) {
    if (!slow_) {
      slow_.emplace(std::span<const std::byte>(at_, end_));
    } else {
      slow_->seek(at_);
    }
    (*slow_)(value);
    at_ = slow_->position();
  }

  const std::byte* at_;
  const std::byte* end_;
  std::optional<byte_input_archive> slow_;
};

template <class T>
void decode_into(std::span<const std::byte> bytes, T& value) {
  fast_input_archive archive(bytes);
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
