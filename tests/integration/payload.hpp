// A large byte payload and its digest, for the large-message tests.
#pragma once

#include <cstdint>
#include <vector>

namespace payload {

struct Bytes {
  std::vector<std::uint8_t> data;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(data);
  }
};

struct Digest {
  std::uint64_t size = 0;
  std::uint64_t fnv = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(size, fnv);
  }
  friend bool operator==(const Digest&, const Digest&) = default;
};

inline Digest digest_of(const std::vector<std::uint8_t>& data) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::uint8_t b : data) {
    hash ^= b;
    hash *= 0x100000001b3ULL;
  }
  return {data.size(), hash};
}

// Bytes that differ everywhere, so that a misplaced or stale page shows.
inline std::vector<std::uint8_t> pattern(std::size_t size, std::uint64_t seed) {
  std::vector<std::uint8_t> data(size);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (auto& b : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
  return data;
}

}  // namespace payload
