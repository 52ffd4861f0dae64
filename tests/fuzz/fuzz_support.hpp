// What the fuzz targets and the seed generator share: how an input is cut
// into fields, and the lane and payload layouts both sides agree on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>

#include "lane.hpp"

namespace fuzz {

// Reads fixed-size fields off the front of the input; past the end every
// field reads as zero bytes, so any input, however short, is a valid one.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : at_(data), end_(data + size) {}

  template <class T>
  T take() {
    T value{};
    const std::size_t n = std::min(sizeof(T), left());
    std::memcpy(&value, at_, n);
    at_ += n;
    return value;
  }
  [[nodiscard]] std::span<const std::uint8_t> rest() const { return {at_, left()}; }
  [[nodiscard]] bool done() const { return at_ == end_; }

 private:
  [[nodiscard]] std::size_t left() const { return static_cast<std::size_t>(end_ - at_); }
  const std::uint8_t* at_;
  const std::uint8_t* end_;
};

// A broken invariant: print it and abort, which libFuzzer reports as a
// crash with the input saved.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}
inline void require(bool condition, const char* what) {
  if (!condition) fail(what);
}

// A lane in a heap block of exactly sizeof(lane) + capacity bytes, as the
// arena hands one out: ASan flags any read past the ring's last byte.
class heap_lane {
 public:
  heap_lane(std::uint64_t capacity, std::uint32_t sender)
      : capacity_(capacity),
        memory_(::operator new(sizeof(procactor::detail::lane) + capacity, std::align_val_t{64})),
        lane_(procactor::detail::lane_create(memory_, capacity, sender)) {}
  ~heap_lane() { ::operator delete(memory_, std::align_val_t{64}); }
  heap_lane(const heap_lane&) = delete;
  heap_lane& operator=(const heap_lane&) = delete;

  [[nodiscard]] procactor::detail::lane* get() const { return lane_; }
  [[nodiscard]] std::byte* data() const { return procactor::detail::lane_data(lane_); }
  [[nodiscard]] std::uint64_t capacity() const { return capacity_; }
  // True when [p, p + n) lies inside the ring's data.
  [[nodiscard]] bool holds(const std::byte* p, std::size_t n) const {
    return p >= data() && n <= capacity_ && p - data() <= static_cast<std::ptrdiff_t>(capacity_ - n);
  }

 private:
  std::uint64_t capacity_;
  void* memory_;
  procactor::detail::lane* lane_;
};

// fuzz-lane input, mode byte first (bit 0):
//   0, "raw ring": u16 capacity, u64 head, u64 tail - head, then the ring's bytes.
//   1, "script":   u16 capacity selector, then operations (see fuzz_lane.cpp).
inline constexpr std::uint8_t lane_mode_raw = 0;
inline constexpr std::uint8_t lane_mode_script = 1;
// Raw mode takes any capacity up to this, 0 and odd sizes included: the
// capacity word sits in shared memory too.
inline constexpr std::uint64_t lane_raw_max_capacity = 8192;
// Script mode: capacities the runtime could make (multiples of 8), from the
// smallest whose lane_max_record holds a header and 8 bytes.
inline constexpr std::uint64_t script_capacity(std::uint16_t selector) {
  return 8 * (4 + static_cast<std::uint64_t>(selector % 1021));
}

// The payload of script record `seq`: the seq, then bytes derived from it.
inline std::uint8_t pattern_byte(std::uint64_t seq, std::size_t i) {
  return static_cast<std::uint8_t>((seq * 0x9E3779B97F4A7C15ULL + i * 0x2545F491U) >> 56);
}

}  // namespace fuzz
