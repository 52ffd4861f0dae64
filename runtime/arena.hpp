// The run's shared arena: one segment, made by the supervisor, that holds
// the slot table and every mailbox and lane of the run.
//
// Contract
// --------
// * Only offsets are stored in the arena, never pointers: each process maps
//   it at its own address. Every offset read from it is bounds-checked
//   (arena::at) before use.
// * The segment is sized once to the run's limit (Options::arena_size) but
//   holds no memory until used: space is handed out by a lock-free bump of
//   `bump`, and the allocating process reserves exactly those pages
//   (posix_fallocate) before anyone touches them, so a full /dev/shm is an
//   error at allocation, never SIGBUS later. Space is never returned while
//   the run lasts, except by an allocation whose pages could not be
//   reserved: it gives its bytes back (or, when another allocation followed
//   it, counts them as `unbacked`), so a full /dev/shm never uses up the
//   arena's own limit. A process killed between the bump and publishing what it
//   allocated leaks that space; nothing else is affected.
// * A slot entry's fields say who writes them. The supervisor writes the
//   configuration before the first incarnation starts (and keeps a private
//   copy to check it against); the actor writes its `inflight_*` fields
//   around each handler; the supervisor writes the `crash_*` fields after
//   reaping a crashed incarnation, when no incarnation runs. So no field has
//   two concurrent writers.
// * The segment is created with mode 0600 and a name no one can guess
//   ("procactor-<supervisor pid>-<64 random bits>"). The supervisor holds an
//   exclusive flock on it for its whole life: the kernel drops the lock when
//   the supervisor dies, however it dies, so "locked" means "its owner
//   lives" even across PID namespaces, where a pid proves nothing. The
//   supervisor removes its segments on every exit it lives through; a
//   guardian process removes them after a SIGKILL; and start-up sweeps
//   segments whose lock is free, as the last fallback.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "lane.hpp"

namespace procactor::detail {

inline constexpr std::uint32_t max_slots = 1024;
inline constexpr std::uint32_t arena_magic = 0xA7E4A001U;
inline constexpr std::size_t name_length = 64;
inline constexpr std::size_t warm_page_limit = 1024;
// The supervisor watches the slots' `life` words (life_watch.hpp) with a
// thread per this many slots (futex_waitv takes 128 words; one is the
// thread's bell), starting at slot 1.
inline constexpr std::uint32_t life_slots_per_watcher = 127;
inline constexpr std::uint32_t life_watchers = (max_slots - 1 + life_slots_per_watcher - 1) / life_slots_per_watcher;
constexpr std::uint32_t life_watcher_of(std::uint32_t slot) noexcept { return (slot - 1) / life_slots_per_watcher; }

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

// slot_entry::crash_count: the message in flight hung past stall_timeout
// and its asker has been told; the next incarnation drops it.
inline constexpr std::uint32_t crash_stalled = 0x80000000U;

struct slot_entry {
  // Written by the supervisor.
  std::atomic<std::uint32_t> state;
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> incarnation;
  std::atomic<std::uint32_t> restarts;
  // The one CPU, plus 1, to which the thread of this slot's process that
  // last began a wait that may spin is pinned; 0 when it is not pinned to
  // one. Written by that process when it changes (cpu_share.hpp), read by a
  // peer about to spin for it: on a line that no message writes.
  std::atomic<std::int32_t> waits_on;
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
  // A seqlock over `routes` and `routes_length`, which Runtime::set_routes
  // replaces while the actor runs: odd while the supervisor writes them,
  // bumped to the next even value when they are whole. The running
  // incarnation rereads its routes when it sees a new even value.
  std::atomic<std::uint32_t> routes_epoch;
  // Written by the running incarnation around each handler.
  std::atomic<std::uint32_t> inflight_sender;  // lane's sender slot + 1; 0: none
  std::atomic<std::uint32_t> inflight_flags;
  std::atomic<std::uint64_t> inflight_position;
  std::atomic<std::uint64_t> inflight_correlation;
  std::atomic<std::uint64_t> inflight_type;
  // Written by the supervisor after a crash with a message in flight.
  // crash_count has crash_stalled set when the crash was the watchdog's kill
  // of a retried task (a pool's): it is not run again (actor_host::recv).
  std::atomic<std::uint32_t> crash_sender;
  std::atomic<std::uint32_t> crash_count;
  std::atomic<std::uint64_t> crash_position;
  // Futex word of this slot's process while a least_loaded route waits for
  // credit: bumped by the consumers of its lanes when they commit.
  std::atomic<std::uint32_t> progress_seq;
  // A robust futex (life_watch.hpp): the running incarnation's main thread
  // id, written by that thread; the kernel sets FUTEX_OWNER_DIED in it as
  // the thread exits, before its memory is torn down. Zeroed by the
  // supervisor before each start; the supervisor's watcher adds
  // FUTEX_WAITERS to be woken.
  std::atomic<std::uint32_t> life;
  // Counters, written by the running incarnation.
  std::atomic<std::uint64_t> processed;
  std::atomic<std::uint64_t> dead_letters;
  // Monitors: bit w is set while slot w monitors this actor (set and cleared
  // by the watcher; cleared by the supervisor when the watcher's incarnation
  // ends or this actor is gone for good, after it sent the Down).
  std::atomic<std::uint64_t> monitors[max_slots / 64];
};
static_assert(std::is_standard_layout_v<slot_entry>);

// The part of a slot entry that the supervisor writes once, before the first
// incarnation, and nobody writes after: the supervisor keeps a private copy
// and checks the shared one against it (slot_check in the supervisor).
inline constexpr std::size_t slot_config_begin = offsetof(slot_entry, mailbox);
inline constexpr std::size_t slot_config_end = offsetof(slot_entry, type) + name_length;
static_assert(slot_config_end == offsetof(slot_entry, no_restart), "the configuration is one run of plain fields");
struct slot_config {
  std::byte bytes[slot_config_end - slot_config_begin];
};
inline slot_config config_of(const slot_entry& e) noexcept {
  slot_config c;
  std::memcpy(c.bytes, reinterpret_cast<const std::byte*>(&e) + slot_config_begin, sizeof c.bytes);
  return c;
}

// A mailbox: the lanes of one receiver, indexed by sender slot.
struct mailbox {
  alignas(cache_line) std::atomic<std::uint32_t> wake_seq;  // futex word of parked consumers
  // How many threads sleep on wake_seq: the actor's, or for an inbox the pump
  // thread and threads awaiting a reply. The supervisor zeroes it when it
  // reaps the owner, so a sleeper killed by SIGKILL costs nothing later.
  std::atomic<std::uint32_t> parked;
  // Set by the producer whose send woke the sleepers, cleared by a consumer
  // before it parks: later sends into a box whose sleepers are already being
  // woken make no syscall (one wake per park, not one per message).
  std::atomic<std::uint32_t> wake_pending;
  // mailbox_open, _closed, _stopping or _draining; also a futex word: senders
  // waiting out a drain sleep on it (sender::write).
  alignas(cache_line) std::atomic<std::uint32_t> closed;
  std::atomic<std::uint32_t> lanes_seq;  // bumped when a lane is added
  std::uint32_t owner;
  std::uint32_t magic;
  std::uint64_t lane_capacity;
  std::atomic<std::uint64_t> lane_bits[max_slots / 64];
  std::atomic<std::uint64_t> lane_offset[max_slots];
};
static_assert(std::is_standard_layout_v<mailbox>);
// mailbox::closed: open; closed (the consumer drains what is queued, then
// stops; sends are refused); stopping (the consumer stops after the message
// in hand and the queue waits for its next incarnation: a graceful restart);
// draining (a restart with drain: the consumer drains what is queued, then
// stops, as if closed; a send waits, as for room in a full lane, until the
// supervisor opens the mailbox again for the next incarnation and wakes the
// word).
inline constexpr std::uint32_t mailbox_open = 0;
inline constexpr std::uint32_t mailbox_closed = 1;
inline constexpr std::uint32_t mailbox_stopping = 2;
inline constexpr std::uint32_t mailbox_draining = 3;
inline constexpr std::uint32_t mailbox_magic = 0x3A1B0C5EU;

struct arena_header {
  std::uint32_t magic;
  std::uint32_t supervisor_pid;
  std::uint64_t size;
  std::uint64_t max_message_size;
  std::uint64_t lane_capacity;
  // Options::send_timeout, in ns, for every process of the run (0: the
  // default of 30 s).
  std::uint64_t send_timeout_ns;
  char run_name[name_length];
  // Problems found in shared memory (corrupt records, slot entries that
  // failed their check), counted by whoever found them.
  alignas(cache_line) std::atomic<std::uint64_t> corruptions;
  alignas(cache_line) std::atomic<std::uint64_t> bump;
  std::atomic<std::uint64_t> blob_seq;
  // Bytes below `bump` that hold nothing: allocations whose pages /dev/shm
  // could not back, left behind because another allocation followed them
  // before they could give their space back (arena::allocate).
  std::atomic<std::uint64_t> unbacked;
  std::atomic<std::uint32_t> slot_count;  // slots in use are [0, slot_count)
  // Bumped (and woken) by an actor that has published its `life` word: the
  // supervisor's watcher of its slot (life_watcher_of) then waits on it too.
  alignas(cache_line) std::atomic<std::uint32_t> life_bell[life_watchers];
  alignas(cache_line) slot_entry slots[max_slots];
  // The pages an actor's start touched, published by the first actor forked
  // from the fork server and paged in by the spares (warm_start.hpp).
  alignas(cache_line) std::atomic<std::uint32_t> warm_count;
  std::uint64_t warm_pages[warm_page_limit];
};
static_assert(std::is_standard_layout_v<arena_header>);

class arena {
 public:
  // Supervisor: makes and reserves the segment, of size_for(size); throws
  // error on failure.
  // A name for a new run's arena, "procactor-<pid>-<64 random bits>": known
  // before the segment exists, so that its guardian can be started first.
  static std::string new_name();
  static arena create(const std::string& name, std::size_t size, std::size_t lane_capacity,
                      std::size_t max_message_size);
  // The size a segment asked for as `size` gets: at least the slot table
  // and 1 MiB.
  static constexpr std::size_t size_for(std::size_t size) noexcept {
    return std::max(size, sizeof(arena_header) + (std::size_t{1} << 20));
  }
  // Child: maps the segment its supervisor made.
  static arena open(const std::string& name);
  arena() = default;

  [[nodiscard]] arena_header* header() const noexcept { return header_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // The descriptor of the segment, which holds the supervisor's lock.
  [[nodiscard]] int descriptor() const noexcept { return shm_.get_mapping_handle().handle; }
  [[nodiscard]] slot_entry& slot(std::uint32_t index) const noexcept { return header_->slots[index]; }

  // The object at `offset`, or nullptr when [offset, offset + size) is not
  // inside the arena: offsets come from shared memory and are not trusted.
  template <class T>
  T* at(std::uint64_t offset, std::size_t size = sizeof(T)) const noexcept {
    // Only what was handed out: the rest of the segment has no pages yet.
    const std::uint64_t end = std::min<std::uint64_t>(header_->bump.load(std::memory_order_relaxed), size_);
    if (offset < sizeof(arena_header) || offset > end || size > end - offset ||
        offset % alignof(T) != 0) {
      return nullptr;
    }
    return reinterpret_cast<T*>(base_ + offset);
  }
  [[nodiscard]] std::uint64_t offset_of(const void* p) const noexcept {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }
  // Lock-free bump allocation, 64-byte aligned, with its pages reserved;
  // nullopt when the arena is at its limit or /dev/shm is full (then
  // `problem`, when given, says which).
  std::optional<std::uint64_t> allocate(std::size_t bytes, std::string* problem = nullptr) const noexcept;
  // Bytes handed out so far (what the run's shared memory really holds).
  [[nodiscard]] std::uint64_t used() const noexcept {
    const std::uint64_t bumped = header_->bump.load(std::memory_order_relaxed);
    const std::uint64_t lost = header_->unbacked.load(std::memory_order_relaxed);
    return bumped > lost ? bumped - lost : 0;
  }
  // Why `bytes` more cannot be had: the arena's limit (Options::arena_size)
  // or a full /dev/shm (naming its size and free space).
  [[nodiscard]] std::string shortage(std::size_t bytes) const;
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // A mailbox for `owner` whose lanes hold up to `lane_capacity` bytes each.
  std::optional<std::uint64_t> make_mailbox(std::uint32_t owner, std::uint64_t lane_capacity,
                                            std::string* problem = nullptr) const noexcept;
  // The mailbox at `offset`, or nullptr when none is there (every send
  // looks its target's up: inline).
  mailbox* mailbox_at(std::uint64_t offset) const noexcept {
    auto* box = at<mailbox>(offset);
    return box != nullptr && box->magic == mailbox_magic ? box : nullptr;
  }
  lane* lane_at(std::uint64_t offset) const noexcept;

 private:
  boost::interprocess::shared_memory_object shm_;  // kept open: allocate() reserves through it
  boost::interprocess::mapped_region region_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  arena_header* header_ = nullptr;
  std::string name_;
};

// Removes the segments (arena and blobs) of supervisors that no longer run:
// those whose arena's flock is free.
void sweep_dead_segments() noexcept;
// Removes every segment of the run named `run` (the supervisor's exit path).
// Safe in a signal handler.
void remove_run_segments(const char* run) noexcept;

// A blob: a segment holding one large payload.
std::string blob_create(const arena& a, std::span<const std::byte> payload);  // returns its name
bool blob_valid_name(const arena& a, const char* name) noexcept;
// The bytes of the run's large messages' segments in /dev/shm now (each
// made by a sender, removed once handled: not in the arena's `used()`).
std::uint64_t blob_bytes(const arena& a) noexcept;

}  // namespace procactor::detail
