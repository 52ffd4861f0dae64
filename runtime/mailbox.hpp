// Sending into and receiving from mailboxes (arena.hpp has their layout).
//
// Contract
// --------
// * A sender writes only into the lane of its own slot in each target
//   mailbox, so each lane has exactly one producer process; threads of that
//   process take a process-local lock per lane (never shared memory),
//   biased towards the first thread that sends on it (producer_lock).
// * A lane is made on first use, small (initial_lane_capacity), by its
//   producer or by an asker that wants the reply lane to exist before it
//   asks: bump-allocated from the arena, initialised, then published with a
//   compare-exchange of its offset from 0 (the loser of a race leaks its
//   copy) and a set bit in `lane_bits`. A process that dies before
//   publishing leaks the space and nothing else; a later incarnation of the
//   same slot finds the published lane, follows `next_lane` to the newest
//   one, and goes on from its `tail`.
// * After that, `lane_offset[sender]` is the consumer's: it repoints it when
//   it passes a link marker (lane.hpp), so that a restarted consumer starts
//   at the oldest lane that may still hold unread records.
// * The consumer spins briefly, then clears `wake_pending`, sets `parked`
//   and sleeps on the futex word `wake_seq` with a timeout. A producer bumps
//   `wake_seq` and calls futex wake only when it sees `parked` set and is
//   the first to set `wake_pending` since the park: one syscall per park,
//   not one per message sent while the consumer is still waking. A full
//   fence on both sides makes it impossible for the consumer to park on a
//   record the producer has published; the producer's is a compiler barrier
//   and the consumer's a membarrier(2) (asymmetric fences, futex.hpp).
// * A consumer may take the lines of a record out of the CPU caches when it
//   commits it (lane_evict, evict_policy): the producer, a lap later, then
//   gets them from memory instead of from the consumer's cache.
// * An asker that was idle and whose request woke a sleeping receiver does
//   not spin for the answer: the receiver needs a wake-up first, and on a
//   busy machine a spinner takes the CPU it would run on. In a loop of asks
//   it spins as usual, or both sides could stay parked, each waking the
//   other for every message.
// * Closing sets `closed` to mailbox_closed: sends are refused from then on,
//   and the consumer drains every lane before it stops. mailbox_stopping
//   (a graceful restart) stops the consumer after the record in hand and
//   leaves the lanes, still open to senders, to the next incarnation.
//   mailbox_draining (a restart with drain) drains like a close, but a
//   sender waits, as for room in a full lane, until the supervisor opens
//   the mailbox again for the next incarnation and wakes `closed`.
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "arena.hpp"
#include "envelope.hpp"
#include "futex.hpp"
#include "procactor/error.hpp"

namespace procactor::detail {

using steady = std::chrono::steady_clock;

struct message_header {
  type_id type = 0;
  std::uint64_t correlation = 0;
  std::uint32_t flags = 0;
};

// When a send that finds its lane full gives up: never waits (none), a
// time point, or a timeout counted from the moment the lane is first found
// full. The last reads no clock on the common path, where there is room.
// Two 8-byte words, so that it travels in registers: a struct built with
// narrower stores and then copied with wider loads (bools next to a time
// point) defeats the CPU's store-to-load forwarding, and such a load waits
// until every older store has reached the cache, the previous record's
// stores to ring lines the consumer holds included: a full fence per send.
class send_deadline {
 public:
  send_deadline() = default;
  send_deadline(std::nullopt_t) noexcept {}  // NOLINT: reads as "no deadline"
  send_deadline(steady::time_point at) noexcept  // NOLINT
      : ticks_(at.time_since_epoch().count()), kind_(absolute) {}
  send_deadline(std::optional<steady::time_point> at) noexcept  // NOLINT
      : ticks_(at ? at->time_since_epoch().count() : 0), kind_(at ? absolute : none) {}
  static send_deadline after(steady::duration timeout) noexcept {
    send_deadline d;
    d.ticks_ = timeout.count();
    d.kind_ = lazy;
    return d;
  }
  explicit operator bool() const noexcept { return kind_ != none; }
  // The time point; a lazy deadline starts counting at the first call.
  steady::time_point when() noexcept {
    if (kind_ == lazy) {
      ticks_ = (steady::now() + steady::duration(ticks_)).time_since_epoch().count();
      kind_ = absolute;
    }
    return steady::time_point(steady::duration(ticks_));
  }

 private:
  static constexpr std::uint64_t none = 0;
  static constexpr std::uint64_t absolute = 1;
  static constexpr std::uint64_t lazy = 2;
  steady::rep ticks_ = 0;  // the time point, or for `lazy` the timeout
  std::uint64_t kind_ = none;
};
static_assert(sizeof(send_deadline) == 16 && std::is_trivially_copyable_v<send_deadline>);

// Asked while a send waits for room: ok to keep waiting, or the error to
// give up with (the receiver is gone, or down under fail_fast). A plain
// function and a pointer, so the fast path builds nothing.
struct wait_check {
  errc (*verdict)(const void* context) = nullptr;
  const void* context = nullptr;
};

// Lanes start this small and double, up to the mailbox's lane_capacity, as
// their producer finds them full: memory follows the traffic.
inline constexpr std::uint64_t initial_lane_capacity = 4096;

// The offset of the first lane from `sender` into `box`, made now if there is
// none; nullopt with `problem` set when the arena has no room.
std::optional<std::uint64_t> ensure_lane(const arena& a, mailbox* box, std::uint32_t sender, std::string& problem);
// The newest lane of the chain that starts at `first`, for its producer: a
// link that a killed predecessor stored but did not publish is published on
// the way. nullptr when a link in the chain is not a lane of `sender`.
lane* newest_lane(const arena& a, lane* first, std::uint32_t sender) noexcept;
// Bytes waiting in `box`, in every lane.
std::uint64_t queued_bytes(const arena& a, const mailbox* box) noexcept;
// Each sender's lane into `box`: the messages committed from it, what
// still waits in it, and what waits in its newest lane. The sender is held
// back once that lane, grown to the mailbox's lane capacity, is full; the
// lanes it grew from may still hold unread records, so queued_bytes can
// pass the capacity and newest_lane_bytes cannot.
struct inbound_lane {
  std::uint32_t sender;
  std::uint64_t delivered;
  std::uint64_t queued_bytes;
  std::uint64_t newest_lane_bytes;
};
std::vector<inbound_lane> inbound_lanes(const arena& a, const mailbox* box);
// True while `sender` sleeps for room in one of its lanes of `box`.
bool waits_for_space(const arena& a, const mailbox* box, std::uint32_t sender) noexcept;
// Bytes waiting in `sender`'s lanes of `box` (its consumer's record in hand
// included: the head moves on commit).
std::uint64_t queued_bytes_from(const arena& a, const mailbox* box, std::uint32_t sender) noexcept;

// The process-local lock of a lane's producer side: one compare-exchange to
// take and one exchange to release when uncontended (a pthread mutex costs
// several times that per message), a futex sleep when another thread of the
// process holds it (Drepper's three-state mutex: 0 free, 1 held, 2 held and
// wanted).
class lane_lock {
 public:
  void lock() noexcept {
    std::uint32_t seen = 0;
    if (state_.compare_exchange_strong(seen, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    if (seen != 2) seen = state_.exchange(2, std::memory_order_acquire);
    while (seen != 0) {
      futex_wait(state_, 2, std::chrono::milliseconds(50));
      seen = state_.exchange(2, std::memory_order_acquire);
    }
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(state_, 1);
  }

 private:
  std::atomic<std::uint32_t> state_{0};
};

// The lock of a lane's producer side, biased towards the first thread that
// sends on it. Any locked instruction is a full fence on x86: it waits for
// the store buffer, which holds the previous record's stores to ring lines
// the consumer has just read, and that wait was most of a send's time. So
// the owning thread takes and releases the lock with plain stores, and a
// Dekker handshake with asymmetric fences (futex.hpp) keeps out any other
// thread: the owner sets `busy`, then (signal_fence) checks `revoked`; a
// second thread sets `revoked`, then (wait_fence: membarrier) marks the
// revocation done. From then on the owner can no longer enter on its fast
// path (one of the two always sees the other's flag), and every thread,
// the owner too, takes the lane_lock; whoever holds it first waits until
// the owner has left its last fast-path section (`busy` clear).
class producer_lock {
 public:
  // True when taken on the owner's fast path; pass it back to unlock().
  bool lock() noexcept {
    const void* me = reinterpret_cast<const void*>(::pthread_self());  // unique among live threads
    const void* owner = owner_.load(std::memory_order_relaxed);
    if (owner == nullptr && revoked_.load(std::memory_order_relaxed) == bias_held &&
        owner_.compare_exchange_strong(owner, me, std::memory_order_relaxed)) {
      owner = me;  // the first thread on this lane: once per lane
    }
    if (owner == me && revoked_.load(std::memory_order_relaxed) == bias_held) {
      busy_.store(1, std::memory_order_relaxed);
      signal_fence();
      if (revoked_.load(std::memory_order_acquire) == bias_held) return true;
      busy_.store(0, std::memory_order_release);
    }
    lock_shared();
    return false;
  }
  void unlock(bool fast) noexcept {
    if (fast) {
      busy_.store(0, std::memory_order_release);
    } else {
      mutex_.unlock();
    }
  }

 private:
  // Revokes the bias if nobody has, waits until it is revoked for good,
  // takes the lane_lock, then waits for the owner's last fast section.
  void lock_shared() noexcept;
  static constexpr std::uint32_t bias_held = 0;
  static constexpr std::uint32_t bias_revoking = 1;
  static constexpr std::uint32_t bias_revoked = 2;
  std::atomic<const void*> owner_{nullptr};
  std::atomic<std::uint32_t> revoked_{bias_held};
  std::atomic<std::uint32_t> busy_{0};
  lane_lock mutex_;
};

class producer_guard {
 public:
  explicit producer_guard(producer_lock& lock) noexcept : lock_(lock), fast_(lock.lock()) {}
  ~producer_guard() { lock_.unlock(fast_); }
  producer_guard(const producer_guard&) = delete;
  producer_guard& operator=(const producer_guard&) = delete;

 private:
  producer_lock& lock_;
  bool fast_;
};

class sender {
 public:
  sender(const arena& a, std::uint32_t self) : arena_(&a), self_(self) {}

  // Writes one record into the mailbox at `box_offset`, which belongs to
  // `target` (its mailbox, or its inbox when `inbox`). With no deadline it
  // returns `full` at once when the lane has no room; with one it waits.
  errc write(std::uint32_t target, bool inbox, std::uint64_t box_offset, const message_header& header,
             std::span<const std::byte> payload, send_deadline& deadline, const wait_check& check = {});

  // Bytes this process has put into `target`'s mailbox that its consumer has
  // not committed yet, in this process's newest lane there (a grown lane's
  // older ones drain first): under at-least-once delivery that includes the
  // message in its handler; for a target on another node, what waits for it
  // there too (lane::remote_outstanding). 0 when this process has not sent
  // there.
  std::uint64_t outstanding(std::uint32_t target);
  // Sleeps until the consumer of one of `targets` commits a record of this
  // process's lane there, or `timeout` passes, unless one of them already
  // has fewer than `below` bytes outstanding. On this slot's progress_seq
  // futex, which those consumers bump when they see the lane's
  // lane_waits_for_progress bit.
  void await_progress(std::span<const std::uint32_t> targets, std::uint64_t below, steady::duration timeout);
  // Why this process's last send that found no room in shared memory found
  // none (the arena's limit, or a full /dev/shm); empty before any.
  std::string shortage() const;

 private:
  struct local_lane {
    explicit local_lane(lane* l) : writer(l) {}
    producer_lock mutex;
    lane_writer writer;
    // This process's large messages in its lanes to this mailbox that the
    // consumer has not committed: the lane each is in, the position past
    // its record, its size. Under mutex. Kept here, not in shared memory:
    // a new incarnation of the sender starts with none (it may queue one
    // budget more), and nothing is left counted by a process that died.
    struct queued_blob {
      lane* in;
      std::uint64_t end;
      std::uint64_t bytes;
    };
    std::deque<queued_blob> blobs;
    std::uint64_t blob_bytes = 0;
    // The bytes of those still queued, forgetting the ones committed.
    std::uint64_t blobs_queued() noexcept {
      while (!blobs.empty() && blobs.front().in->head.load(std::memory_order_acquire) >= blobs.front().end) {
        blob_bytes -= blobs.front().bytes;
        blobs.pop_front();
      }
      return blob_bytes;
    }
  };
  local_lane* lane_for(std::size_t index, mailbox* box, errc& status) {
    if (local_lane* known = lanes_[index].load(std::memory_order_acquire)) return known;
    return make_lane(index, box, status);
  }
  // The first send to a mailbox: finds or makes this process's lane there.
  local_lane* make_lane(std::size_t index, mailbox* box, errc& status);
  // Replaces a full lane by one twice its size; false when it is already as
  // large as `box` allows, or the arena has no room (then `status` says so).
  bool grow(local_lane& local, mailbox* box, std::size_t record, errc& status);
  // The envelope is written straight into the ring from registers: one
  // built on the stack and copied in would be read back with wider loads
  // than the stores that made it (see send_deadline).
  // `blob_bytes`: the size of the large message a blob record names (0
  // for any other record), counted in local.blobs once published.
  errc write_record(local_lane& local, mailbox* box, const message_header& header, std::uint32_t flags,
                    std::span<const std::byte> body, send_deadline& deadline, const wait_check& check,
                    std::uint64_t blob_bytes = 0);
  // Waits, as for room in a full lane, until this process's large messages
  // queued in `box` leave room for `bytes` more under the run's
  // max_message_size (or the mailbox's lane capacity, if larger), or fewer
  // than blobs_always_queued are: errc::ok, else why not (full without a
  // deadline, timeout, closed, the verdict's). It sleeps without the lane's
  // lock, so the check and the write that follows are not one step: each
  // thread of the process may add one more.
  static constexpr std::size_t blobs_always_queued = 2;
  errc wait_for_blob_room(local_lane& local, mailbox* box, std::uint32_t flags, std::uint64_t bytes,
                          send_deadline& deadline, const wait_check& check);

  const arena* arena_;
  std::uint32_t self_;
  bool growth_refused_ = false;  // logged once: the arena could not grow a lane
  void note_shortage(const std::string& problem);
  mutable std::mutex shortage_mutex_;
  std::string shortage_;    // see shortage()
  std::mutex lanes_mutex_;  // serialises making a lane; lookups take no lock
  // Indexed by target slot * 2 + inbox: a send finds its lane with one load.
  std::unique_ptr<std::atomic<local_lane*>[]> lanes_{new std::atomic<local_lane*>[max_slots * 2]()};
  std::vector<std::unique_ptr<local_lane>> owned_;
};

// Wakes the consumer of `box` if it is parked and no earlier send has woken
// it since it parked.
void wake_consumer(mailbox* box) noexcept;
// Tells the producer of `l`, if it waits for one of its least_loaded
// targets to finish something (lane_waits_for_progress, see
// sender::await_progress), that `l`'s load went down. `waiting` is the
// lane's producer_waiting word read after that change, behind a seq_cst
// fence (lane_commit returns it so).
void wake_progress_waiter(const arena& a, const lane* l, std::uint32_t waiting) noexcept;
// Whether a wake_consumer on this thread made a futex wake since the last
// call: the peer was asleep, so its answer will take a wake-up at least.
bool take_woke_sleeper() noexcept;

// Before a thread parks on box->wake_seq: `seq` read first, then the
// pending wake cleared, so a producer that finds it set has bumped the seq
// after this read (the futex wait then returns at once).
inline void arm_wake(mailbox* box) noexcept { box->wake_pending.store(0, std::memory_order_relaxed); }

// How long to spin before parking, learnt per waiter from how long its
// recent waits lasted (a moving average). When messages usually come within
// the spin window, spin through it: hot ping-pong stays in user space. When
// they usually take longer, spin only briefly and park: on a busy machine a
// spinner takes the CPU its slow peer needs in order to answer.
class spin_budget {
 public:
  // A parked wait lasts its wake-up too (15-50 µs), so "usually within the
  // window" is judged with room for one, or parking would feed itself; no
  // more, or waits that are slow by nature (an answer from another node,
  // 100-400 µs) keep a spin that never catches them and takes the CPU the
  // gateway carrying the answer needs.
  [[nodiscard]] std::chrono::nanoseconds get() const noexcept { return slow() ? min_ : max_; }
  // Its waits usually outlast the spin (and a wake-up): its first sleep of
  // a wait may skip the membarrier (park_fence, futex.hpp).
  [[nodiscard]] bool slow() const noexcept {
    return std::chrono::nanoseconds{typical_ns_.load(std::memory_order_relaxed)} > 2 * max_;
  }
  // Threads that wait at once may share one budget: each update is a plain
  // load and store, and one of two at the same moment may be lost, which an
  // average of recent waits can afford (no lock on the hot path).
  void waited(std::chrono::nanoseconds wait) noexcept {
    const std::int64_t typical = typical_ns_.load(std::memory_order_relaxed);
    typical_ns_.store(typical + (std::min(wait, cap_).count() - typical) / 4, std::memory_order_relaxed);
  }

 private:
  // The floor costs a parked wait little next to the 15-37 µs of a
  // wake-up (docs/design.md §9).
  static constexpr std::chrono::nanoseconds min_ = std::chrono::microseconds(4);
  static constexpr std::chrono::nanoseconds max_ = std::chrono::microseconds(50);
  static constexpr std::chrono::nanoseconds cap_ = std::chrono::milliseconds(1);
  std::atomic<std::int64_t> typical_ns_{0};
};

// Whether a consumer takes the lines it has read out of the caches
// (lane_evict). Measured on the development VM, whose two vCPUs the host
// moves between cores over minutes: a stream of 32-byte messages went from
// 4.5-7.1 M msg/s to 11-15 M with it while a cache line's round trip
// between the two took 600 ns, and from 23.4 M to 18.5 M while it took
// 130 ns. So the consumer measures: it counts its commits in windows of
// `window` records, times each window (one clock read), alternates the two
// modes for the first `warm_up` windows, then keeps the mode whose windows
// went faster (the newest window weighs 3/4), trying the other one window
// in `explore_every`. Windows slower than `dense` per record
// (not a stream: the time is the producer's pace) teach nothing.
// A record the consumer waited for is never evicted (receiver::waited_).
class evict_policy {
 public:
  [[nodiscard]] bool on() const noexcept { return on_; }
  void committed() noexcept {
    if (++count_ == window) next_window();
  }

 private:
  static constexpr unsigned window = 16384;
  static constexpr unsigned explore_every = 64;
  static constexpr double dense_ns = 2000;
  static constexpr unsigned warm_up = 8;  // windows that alternate the modes
  void next_window() noexcept;
  bool on_ = lane_eviction() != eviction::off;
  bool timing_ = false;
  unsigned count_ = 0;
  unsigned windows_ = 0;
  steady::time_point start_{};
  double cost_[2] = {0, 0};  // ns per record, by mode (off, on); 0: not measured yet
};

// A large payload's segment, mapped while its record is handled.
struct blob_mapping {
  std::string name;
  boost::interprocess::mapped_region region;
};

// One record as the consumer sees it. Its bytes stay valid until commit().
struct delivery {
  lane* from = nullptr;
  std::uint64_t position = 0;
  std::uint64_t next = 0;
  envelope head{};
  std::span<const std::byte> payload;  // inline bytes, or the mapped blob
  std::shared_ptr<blob_mapping> blob;  // set only for a large payload
};

// A problem found in a lane: logged and counted by the caller.
using problem_sink = std::function<void(std::uint32_t sender, const std::string& problem)>;

class receiver {
 public:
  receiver(const arena& a, mailbox* box, problem_sink on_problem)
      : arena_(&a), box_(box), on_problem_(std::move(on_problem)) {}

  // The next record of any lane (fair across lanes), waiting up to `timeout`
  // (spin, then park; with `spin` false, park after a few polls).
  // Corrupt records are reported and skipped.
  std::optional<delivery> next(steady::duration timeout, bool spin = true);
  // The next record if one is there now; never waits.
  std::optional<delivery> try_next() { return poll(); }
  // Whether `sender`'s lane has a record, looking at that lane alone; if so
  // the next poll starts there. A waiter for one sender's answer asks this
  // while it spins instead of polling every lane: with many senders each
  // idle lane costs a miss (its lines lie pages apart): 31 of them made a
  // parked round trip about 15 µs slower (docs/design.md).
  bool prefer(std::uint32_t sender);
  // The slot whose process waits in next(): it notes there the CPU it is
  // pinned to, and parks at once rather than spin while the sender of its
  // last record is pinned to the same one (cpu_share.hpp). Without it,
  // next() spins as before.
  void waits_as(std::uint32_t slot) noexcept { owner_ = slot; }
  // Moves the lane's head past `d` and removes its blob.
  void commit(const delivery& d);
  // True when every lane is empty right now.
  bool all_empty();
  [[nodiscard]] mailbox* box() const noexcept { return box_; }

 private:
  void refresh_lanes();
  std::optional<delivery> poll();

  const arena* arena_;
  mailbox* box_;
  problem_sink on_problem_;
  std::uint32_t seen_lanes_seq_ = ~0U;
  struct lane_view {
    lane* l;
    std::uint64_t cached_tail;
  };
  std::vector<lane_view> lanes_;
  // Where each sending slot's lane is in lanes_ (no_lane: none).
  static constexpr std::uint16_t no_lane = 0xFFFF;
  std::vector<std::uint16_t> index_of_;
  std::size_t cursor_ = 0;
  unsigned burst_ = 0;
  // poll()s (and prefer() looks) in a row that found nothing, up to
  // prefetch_after: from there on this consumer is waiting, not keeping up
  // with a stream (which finds its lanes empty one to three times a
  // record), and each empty lane's next record line is prefetched
  // (lane_prefetch_next).
  unsigned empty_polls_ = 0;
  static constexpr unsigned prefetch_after = 8;
  // The record poll() returned last came to a consumer that was waiting
  // for it (empty_polls_ had reached prefetch_after): its commit takes no
  // lines out of the caches. Eviction pays for a stream, whose producer
  // writes a lap later lines the consumer still holds; a consumer that
  // waits for each record (an actor answering asks, an asker taking its
  // answer) only pays its cost: with the CPUs far apart a hot round trip
  // was about 0.08 µs shorter with eviction off (docs/benchmarks.md).
  bool waited_ = false;
  evict_policy evict_;
  spin_budget spin_;
  std::uint32_t owner_ = max_slots;        // waits_as(); max_slots: none
  std::uint32_t last_sender_ = max_slots;  // of the last record poll() returned
};

}  // namespace procactor::detail
