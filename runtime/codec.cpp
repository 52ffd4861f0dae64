#include "procactor/codec.hpp"

#include <cstring>

namespace procactor::detail {

std::streamsize growing_buffer::xsputn(const char* s, std::streamsize n) {
  const auto count = static_cast<std::size_t>(n);
  if (size_ + count > data_.size()) data_.resize(std::max(data_.size() * 2, size_ + count));
  std::memcpy(data_.data() + size_, s, count);
  size_ += count;
  return n;
}

std::streambuf::int_type growing_buffer::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  const char c = traits_type::to_char_type(ch);
  xsputn(&c, 1);
  return ch;
}

encoder& thread_encoder() {
  thread_local encoder instance;
  return instance;
}

decoder& thread_decoder() {
  thread_local decoder instance;
  return instance;
}

}  // namespace procactor::detail
