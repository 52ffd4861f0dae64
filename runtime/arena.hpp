// The run's shared arena: one segment, made by the supervisor, that holds
// the slot table and every mailbox and lane of the run.
//
// Contract
// --------
// * Only offsets are stored in the arena, never pointers: each process maps
//   it at its own address. Every offset read from it is bounds-checked
//   (arena::at) before use.
// * Space is handed out by a lock-free bump of `bump` and never returned
//   while the run lasts. A process killed between the bump and publishing
//   what it allocated leaks that space; nothing else is affected.
// * A slot entry's fields say who writes them. The supervisor writes the
//   configuration before the first incarnation starts; the actor writes its
//   `inflight_*` fields around each handler; the supervisor writes the
//   `crash_*` fields after reaping a crashed incarnation, when no
//   incarnation runs. So no field has two concurrent writers.
// * The segment is created with mode 0600 and a name no one can guess
//   ("procactor-<supervisor pid>-<64 random bits>"). The supervisor removes
//   it on every exit it lives through; start-up sweeps the segments of
//   supervisors that are dead (SIGKILL leaves no other chance).
#pragma once

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "lane.hpp"

namespace procactor::detail {

inline constexpr std::uint32_t max_slots = 1024;
inline constexpr std::uint32_t arena_magic = 0xA7E4A001U;
inline constexpr std::size_t name_length = 64;

enum class slot_state : std::uint32_t {
  free = 0,
  starting,    // spawned, not yet running its handler loop
  running,
  restarting,  // dead, a restart is scheduled
  exited,      // done for good, normally (closed, or returned from run)
  failed,      // done for good, abnormally, or given up
  killed,      // done for good: ActorRef::kill
};
constexpr bool is_terminal(slot_state s) noexcept {
  return s == slot_state::exited || s == slot_state::failed || s == slot_state::killed;
}

struct slot_entry {
  // Written by the supervisor.
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> incarnation;
  std::atomic<std::uint32_t> restarts;
  std::uint64_t mailbox;  // offset of the actor's mailbox
  std::uint64_t inbox;    // offset of the slot's reply inbox
  std::uint64_t params;   // offset and length of the cereal-encoded Params
  std::uint64_t params_length;
  std::uint64_t routes;   // offset and length of the cereal-encoded routes
  std::uint64_t routes_length;
  std::uint32_t poison_limit;
  std::uint32_t delivery;   // procactor::Delivery
  std::uint32_t when_down;  // procactor::WhenDown
  std::int32_t cpu;
  std::int32_t nice;
  std::int32_t replica;
  std::uint64_t memory_limit;
  char name[name_length];
  char type[name_length];
  // Written by anyone who asks for a stop without restart (ActorRef::kill).
  std::atomic<std::uint32_t> no_restart;
  // Written by the running incarnation around each handler.
  std::atomic<std::uint32_t> inflight_sender;  // lane's sender slot + 1; 0: none
  std::atomic<std::uint32_t> inflight_flags;
  std::atomic<std::uint64_t> inflight_position;
  std::atomic<std::uint64_t> inflight_correlation;
  std::atomic<std::uint64_t> inflight_type;
  // Written by the supervisor after a crash with a message in flight.
  std::atomic<std::uint32_t> crash_sender;
  std::atomic<std::uint32_t> crash_count;
  std::atomic<std::uint64_t> crash_position;
  // Counters, written by the running incarnation.
  std::atomic<std::uint64_t> processed;
  std::atomic<std::uint64_t> dead_letters;
};
static_assert(std::is_standard_layout_v<slot_entry>);

// A mailbox: the lanes of one receiver, indexed by sender slot.
struct mailbox {
  alignas(cache_line) std::atomic<std::uint32_t> wake_seq;  // futex word of parked consumers
  // How many threads sleep on wake_seq: the actor's, or for an inbox the pump
  // thread and threads awaiting a reply. The supervisor zeroes it when it
  // reaps the owner, so a sleeper killed by SIGKILL costs nothing later.
  std::atomic<std::uint32_t> parked;
  alignas(cache_line) std::atomic<std::uint32_t> closed;
  std::atomic<std::uint32_t> lanes_seq;  // bumped when a lane is added
  std::uint32_t owner;
  std::uint32_t magic;
  std::uint64_t lane_capacity;
  std::atomic<std::uint64_t> lane_bits[max_slots / 64];
  std::atomic<std::uint64_t> lane_offset[max_slots];
};
static_assert(std::is_standard_layout_v<mailbox>);
inline constexpr std::uint32_t mailbox_magic = 0x3A1B0C5EU;

struct arena_header {
  std::uint32_t magic;
  std::uint32_t supervisor_pid;
  std::uint64_t size;
  std::uint64_t max_message_size;
  std::uint64_t lane_capacity;
  char run_name[name_length];
  alignas(cache_line) std::atomic<std::uint64_t> bump;
  std::atomic<std::uint64_t> blob_seq;
  std::atomic<std::uint32_t> slot_count;  // slots in use are [0, slot_count)
  alignas(cache_line) slot_entry slots[max_slots];
};
static_assert(std::is_standard_layout_v<arena_header>);

class arena {
 public:
  // Supervisor: makes and reserves the segment; throws error on failure.
  static arena create(std::size_t size, std::size_t lane_capacity, std::size_t max_message_size);
  // Child: maps the segment its supervisor made.
  static arena open(const std::string& name);
  arena() = default;

  [[nodiscard]] arena_header* header() const noexcept { return header_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] slot_entry& slot(std::uint32_t index) const noexcept { return header_->slots[index]; }

  // The object at `offset`, or nullptr when [offset, offset + size) is not
  // inside the arena: offsets come from shared memory and are not trusted.
  template <class T>
  T* at(std::uint64_t offset, std::size_t size = sizeof(T)) const noexcept {
    if (offset < sizeof(arena_header) || offset > size_ || size > size_ - offset ||
        offset % alignof(T) != 0) {
      return nullptr;
    }
    return reinterpret_cast<T*>(base_ + offset);
  }
  [[nodiscard]] std::uint64_t offset_of(const void* p) const noexcept {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }
  // Lock-free bump allocation, 64-byte aligned; nullopt when the arena is full.
  std::optional<std::uint64_t> allocate(std::size_t bytes) const noexcept;

  // A mailbox for `owner` whose lanes hold `lane_capacity` bytes each.
  std::optional<std::uint64_t> make_mailbox(std::uint32_t owner, std::uint64_t lane_capacity) const noexcept;
  mailbox* mailbox_at(std::uint64_t offset) const noexcept;
  lane* lane_at(std::uint64_t offset) const noexcept;

 private:
  boost::interprocess::mapped_region region_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  arena_header* header_ = nullptr;
  std::string name_;
};

// Removes the segments (arena and blobs) of supervisors that no longer run.
void sweep_dead_segments() noexcept;
// Removes every segment of the run named `run` (the supervisor's exit path).
// Safe in a signal handler.
void remove_run_segments(const char* run) noexcept;

// A blob: a segment holding one large payload.
std::string blob_create(const arena& a, std::span<const std::byte> payload);  // returns its name
bool blob_valid_name(const arena& a, const char* name) noexcept;

}  // namespace procactor::detail
