// Shared by the cluster tests: the process's MPI environment and waiting
// for events on a link (never for time).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/mpi_link.hpp"

namespace procactor_cluster_test {

extern procactor::cluster::environment* mpi;

// The exit status of a rank that lost its peer as the partition test
// expects (tests/cluster/run_netns.sh checks for it).
inline constexpr int lost_peer_exit = 3;

// Progress until `done` holds. A test that never gets there fails on
// ctest's timeout, and a dead peer on the link's own detector.
template <class Done>
void wait_until(procactor::cluster::mpi_link& link, Done done) {
  while (!done()) link.wait(std::chrono::microseconds(50), std::chrono::microseconds(1000));
}

// Sends a frame, waiting for credit as long as it takes.
inline void send_frame(procactor::cluster::mpi_link& link, int peer, const procactor::cluster::frame_header& header,
                       std::span<const std::byte> payload) {
  while (!link.try_send(peer, header, payload)) link.wait(std::chrono::microseconds(50), std::chrono::microseconds(1000));
}

// A receiver's side of the credit window, held back on purpose: the cost of
// each frame taken is kept unconsumed until release(), which consumes it
// all; frames taken after that are consumed at once.
class credit_holder {
 public:
  explicit credit_holder(procactor::cluster::mpi_link& link) : link_(link) {}

  void take(int peer, const procactor::cluster::frame_header& header) {
    const std::uint64_t cost = procactor::cluster::frame_cost(header.length);
    if (released_) {
      link_.consumed(peer, header.target, cost);
    } else {
      held_.push_back({peer, header.target, cost});
      held_bytes_ += cost;
    }
  }

  void release() {
    released_ = true;
    for (const held& h : held_) link_.consumed(h.peer, h.target, h.bytes);
    held_.clear();
  }

  // What is held now.
  [[nodiscard]] std::uint64_t held_bytes() const noexcept { return released_ ? 0 : held_bytes_; }

 private:
  struct held {
    int peer;
    std::uint32_t target;
    std::uint64_t bytes;
  };
  procactor::cluster::mpi_link& link_;
  std::vector<held> held_;
  std::uint64_t held_bytes_ = 0;
  bool released_ = false;
};

// A payload whose every byte depends on where and when it was sent, so a
// byte out of place, a frame from another stream or a stale buffer shows.
inline std::byte pattern_byte(std::uint64_t seed, std::size_t i) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return static_cast<std::byte>(x & 0xFF);
}

inline std::vector<std::byte> pattern(std::uint64_t seed, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = pattern_byte(seed, i);
  return bytes;
}

inline bool matches_pattern(std::uint64_t seed, std::span<const std::byte> bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != pattern_byte(seed, i)) return false;
  }
  return true;
}

inline std::span<const std::byte> as_bytes(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

inline std::string as_text(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace procactor_cluster_test
