#include "mailbox.hpp"

#include <algorithm>

#include <immintrin.h>
#include <bit>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <cstring>
#include <thread>
#include <utility>

#include "cpu_share.hpp"
#include "futex.hpp"
#include "process.hpp"

namespace bip = boost::interprocess;

namespace procactor::detail {
namespace {

// How long a consumer or a blocked producer spins before it parks. A parked
// process costs 15-37 µs to wake on these VMs (docs/design.md §9), so a short spin
// keeps hot ping-pong in user space without burning a core when idle.
constexpr auto spin_for = std::chrono::microseconds(50);
// The longest single futex sleep: waits are re-checked at least this often,
// so a dead peer or a deadline is noticed without a wake-up.
constexpr auto park_slice = std::chrono::milliseconds(50);
// The longest sleep of a consumer with nothing to read. It has no peer to
// watch: every send, close and stop wakes it, and a deadline shortens the
// sleep. What this bounds is a record whose producer was killed between
// publishing it and waking the consumer. With 50 ms, each idle actor woke
// 25 times a second: a thousand idle actors took about a core of a 2-vCPU
// VM, where a wake-up costs tens of µs.
constexpr auto idle_park_slice = std::chrono::seconds(1);
// Records taken from one lane before the consumer looks at the next one.
constexpr unsigned burst_limit = 64;

}  // namespace

namespace {
// initial-exec, as thread_encoder's (codec.cpp): read on every send.
thread_local bool t_woke_sleeper __attribute__((tls_model("initial-exec"))) = false;
}  // namespace

void wake_consumer(mailbox* box) noexcept {
  signal_fence();  // pairs with the parking consumer's wait_fence (futex.hpp)
  if (box->parked.load(std::memory_order_relaxed) != 0 &&
      box->wake_pending.exchange(1, std::memory_order_acq_rel) == 0) {
    box->wake_seq.fetch_add(1, std::memory_order_release);
    futex_wake(box->wake_seq, INT32_MAX);
    t_woke_sleeper = true;
  }
}

bool take_woke_sleeper() noexcept { return std::exchange(t_woke_sleeper, false); }

void producer_lock::lock_shared() noexcept {
  std::uint32_t state = revoked_.load(std::memory_order_acquire);
  if (state == bias_held && revoked_.compare_exchange_strong(state, bias_revoking, std::memory_order_acq_rel)) {
    wait_fence();  // pairs with the owner's signal_fence between `busy` and `revoked`
    revoked_.store(bias_revoked, std::memory_order_release);
  }
  // Until the fence above has run, the owner may still enter on its fast
  // path: nobody takes the lock before then.
  while (revoked_.load(std::memory_order_acquire) != bias_revoked) std::this_thread::yield();
  mutex_.lock();
  // The owner may be inside a send that waits for room: it leaves when the
  // consumer makes some, or at its deadline.
  while (busy_.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
}

std::optional<std::uint64_t> ensure_lane(const arena& a, mailbox* box, std::uint32_t sender, std::string& problem) {
  std::atomic<std::uint64_t>& slot = box->lane_offset[sender];
  std::uint64_t offset = slot.load(std::memory_order_acquire);
  if (offset == 0) {
    const std::uint64_t capacity = std::min(initial_lane_capacity, box->lane_capacity);
    auto made = a.allocate(sizeof(lane) + capacity, &problem);
    if (!made) return std::nullopt;
    lane_create(a.at<std::byte>(*made, sizeof(lane) + capacity), capacity, sender);
    offset = *made;
    std::uint64_t expected = 0;
    if (!slot.compare_exchange_strong(expected, offset, std::memory_order_acq_rel)) offset = expected;
  }
  // The consumer looks only at lanes whose bit is set. Whoever made the lane
  // may have been killed before setting it: every first user of a lane sets
  // it (an idempotent or) and tells the consumer if it was missing.
  const std::uint64_t bit = std::uint64_t{1} << (sender % 64);
  std::atomic<std::uint64_t>& bits = box->lane_bits[sender / 64];
  if ((bits.load(std::memory_order_acquire) & bit) == 0 && (bits.fetch_or(bit, std::memory_order_acq_rel) & bit) == 0) {
    box->lanes_seq.fetch_add(1, std::memory_order_release);
  }
  return offset;
}

lane* newest_lane(const arena& a, lane* l, std::uint32_t sender) noexcept {
  // A chain is as long as the doublings from the first lane to the largest;
  // more hops than that is a loop in a corrupt table.
  for (int hops = 0; l != nullptr && hops < 64; ++hops) {
    if (l->sender != sender) return nullptr;
    const std::uint64_t next = l->next_lane.load(std::memory_order_acquire);
    if (next == 0) return l;
    // A producer killed between storing next_lane and publishing the link
    // marker left a successor the consumer cannot reach: this incarnation
    // owns the lane's tail now, so it publishes the marker itself.
    const std::uint64_t tail = l->tail.load(std::memory_order_relaxed);
    record_header last{};
    if (tail >= link_size) std::memcpy(&last, lane_data(l) + (tail - link_size) % l->capacity, sizeof last);
    if (tail < link_size || last.size != link_size || last.check != record_check_of(link_size, tail - link_size)) {
      lane_writer(l).link(next);
    }
    l = a.lane_at(next);
  }
  return nullptr;
}

namespace {

// What waits in the chain of lanes that starts at `l`: in all, and in its
// newest lane (the one its producer writes).
struct chain_bytes {
  std::uint64_t queued = 0;
  std::uint64_t newest = 0;
};

chain_bytes bytes_in_chain(const arena& a, const lane* l) noexcept {
  chain_bytes bytes;
  for (int hops = 0; l != nullptr && hops < 64; ++hops) {
    const std::uint64_t used = l->tail.load(std::memory_order_acquire) - l->head.load(std::memory_order_acquire);
    const std::uint64_t next = l->next_lane.load(std::memory_order_acquire);
    if (used <= l->capacity) {
      bytes.queued += used;
      if (next == 0) bytes.newest = used;
    }
    l = next == 0 ? nullptr : a.lane_at(next);
  }
  return bytes;
}

}  // namespace

std::uint64_t queued_bytes_from(const arena& a, const mailbox* box, std::uint32_t sender) noexcept {
  if (sender >= max_slots || (box->lane_bits[sender / 64].load(std::memory_order_acquire) >> (sender % 64) & 1U) == 0) {
    return 0;
  }
  return bytes_in_chain(a, a.lane_at(box->lane_offset[sender].load(std::memory_order_acquire))).queued;
}

bool waits_for_space(const arena& a, const mailbox* box, std::uint32_t sender) noexcept {
  if (sender >= max_slots || (box->lane_bits[sender / 64].load(std::memory_order_acquire) >> (sender % 64) & 1U) == 0) {
    return false;
  }
  const lane* l = a.lane_at(box->lane_offset[sender].load(std::memory_order_acquire));
  for (int hops = 0; l != nullptr && hops < 64; ++hops) {
    if ((l->producer_waiting.load(std::memory_order_acquire) & lane_waits_for_space) != 0) return true;
    const std::uint64_t next = l->next_lane.load(std::memory_order_acquire);
    l = next == 0 ? nullptr : a.lane_at(next);
  }
  return false;
}

std::vector<inbound_lane> inbound_lanes(const arena& a, const mailbox* box) {
  std::vector<inbound_lane> found;
  for (std::uint32_t sender = 0; sender < max_slots; ++sender) {
    if ((box->lane_bits[sender / 64].load(std::memory_order_acquire) >> (sender % 64) & 1U) == 0) continue;
    const lane* l = a.lane_at(box->lane_offset[sender].load(std::memory_order_acquire));
    if (l == nullptr) continue;
    const chain_bytes bytes = bytes_in_chain(a, l);
    found.push_back({sender, l->delivered.load(std::memory_order_relaxed), bytes.queued, bytes.newest});
  }
  return found;
}

std::uint64_t queued_bytes(const arena& a, const mailbox* box) noexcept {
  std::uint64_t bytes = 0;
  // A word of lane bits at a time: a mailbox has lanes from a few senders,
  // and the supervisor looks at every ended actor's after each exit.
  for (std::uint32_t word = 0; word < max_slots / 64; ++word) {
    for (std::uint64_t bits = box->lane_bits[word].load(std::memory_order_acquire); bits != 0; bits &= bits - 1) {
      bytes += queued_bytes_from(a, box, word * 64 + static_cast<std::uint32_t>(std::countr_zero(bits)));
    }
  }
  return bytes;
}

sender::local_lane* sender::make_lane(std::size_t index, mailbox* box, errc& status) {
  std::lock_guard guard(lanes_mutex_);
  if (local_lane* known = lanes_[index].load(std::memory_order_relaxed)) return known;
  std::string problem;
  auto first = ensure_lane(*arena_, box, self_, problem);
  if (!first) {
    note_shortage(problem);
    status = errc::arena_exhausted;
    return nullptr;
  }
  lane* l = newest_lane(*arena_, arena_->lane_at(*first), self_);
  if (l == nullptr) {
    status = errc::corrupt;
    return nullptr;
  }
  owned_.push_back(std::make_unique<local_lane>(l));
  lanes_[index].store(owned_.back().get(), std::memory_order_release);
  return owned_.back().get();
}

bool sender::grow(local_lane& local, mailbox* box, std::size_t record, errc& status) {
  lane* old = local.writer.get();
  const std::uint64_t largest = box->lane_capacity;
  if (old->capacity >= largest) return false;
  std::uint64_t capacity = old->capacity * 2;
  while (capacity < largest && lane_max_record(capacity) < record) capacity *= 2;
  capacity = std::min(capacity, largest);
  std::string problem;
  auto offset = arena_->allocate(sizeof(lane) + capacity, &problem);
  if (!offset) {
    note_shortage(problem);
    status = errc::arena_exhausted;
    if (!growth_refused_) {
      growth_refused_ = true;
      log_line("slot " + std::to_string(self_), "a full lane cannot grow: " + problem);
    }
    return false;
  }
  lane* bigger = lane_create(arena_->at<std::byte>(*offset, sizeof(lane) + capacity), capacity, self_);
  local.writer.link(*offset);
  local.writer = lane_writer(bigger);
  return true;
}

void sender::note_shortage(const std::string& problem) {
  std::lock_guard guard(shortage_mutex_);
  shortage_ = problem;
}

std::string sender::shortage() const {
  std::lock_guard guard(shortage_mutex_);
  return shortage_;
}

std::uint64_t sender::outstanding(std::uint32_t target) {
  if (target >= max_slots) return 0;
  local_lane* local = lanes_[std::size_t{target} * 2].load(std::memory_order_acquire);
  if (local == nullptr) return 0;
  producer_guard guard(local->mutex);  // a send may be growing the lane
  return lane_load(local->writer.get());
}

void sender::await_progress(std::span<const std::uint32_t> targets, std::uint64_t below, steady::duration timeout) {
  std::atomic<std::uint32_t>& word = arena_->slot(self_).progress_seq;
  const std::uint32_t seq = word.load(std::memory_order_acquire);
  std::vector<lane*> lanes;
  lanes.reserve(targets.size());
  for (std::uint32_t target : targets) {
    if (target >= max_slots) continue;
    local_lane* local = lanes_[std::size_t{target} * 2].load(std::memory_order_acquire);
    if (local == nullptr) return;  // never sent there: it has credit
    producer_guard guard(local->mutex);
    lanes.push_back(local->writer.get());
  }
  for (lane* l : lanes) l->producer_waiting.fetch_or(lane_waits_for_progress, std::memory_order_relaxed);
  wait_fence();  // pairs with lane_commit's signal_fence
  bool credit = false;
  for (const lane* l : lanes) {
    credit = credit || lane_load(l) < below;
  }
  if (!credit) futex_wait(word, seq, timeout);
  for (lane* l : lanes) l->producer_waiting.fetch_and(~lane_waits_for_progress, std::memory_order_relaxed);
}

errc sender::write(std::uint32_t target, bool inbox, std::uint64_t box_offset, const message_header& header,
                   std::span<const std::byte> payload, send_deadline& deadline, const wait_check& check) {
  if (target >= max_slots) return errc::no_such_actor;
  mailbox* box = arena_->mailbox_at(box_offset);
  if (box == nullptr || box->owner != target) return errc::corrupt;  // the slot table lies
  if (payload.size() > arena_->header()->max_message_size) return errc::too_large;
  // System records (a reply, a dead-letter report) still go into a closed
  // inbox; user messages do not go into a closed mailbox.
  if ((header.flags & flag_system) == 0) {
    // A mailbox drained for a restart takes new messages from its next
    // incarnation on: wait for that as for room in a full lane (the
    // supervisor wakes the word when it opens the mailbox again).
    for (std::uint32_t state = box->closed.load(std::memory_order_acquire); state == mailbox_closed ||
                                                                            state == mailbox_draining;
         state = box->closed.load(std::memory_order_acquire)) {
      if (state == mailbox_closed) return errc::closed;
      if (!deadline) return errc::full;
      const auto now = steady::now();
      if (now >= deadline.when()) return errc::timeout;
      if (check.verdict != nullptr) {
        if (errc verdict = check.verdict(check.context); verdict != errc::ok) return verdict;
      }
      futex_wait(box->closed, mailbox_draining, std::min<steady::duration>(park_slice, deadline.when() - now));
    }
  }
  errc status = errc::ok;
  local_lane* local = lane_for(std::size_t{target} * 2 + (inbox ? 1 : 0), box, status);
  if (local == nullptr) return status;

  if (record_size_for(payload.size()) <= lane_max_record(box->lane_capacity)) {
    return write_record(*local, box, header, header.flags, payload, deadline, check);
  }
  // Too large for the lane: the record names a blob segment that holds it.
  // A sender's large messages waiting in one mailbox are bounded in bytes
  // (Options::max_message_size, or the lane's capacity if larger), so that
  // a consumer that falls behind holds back their sender, instead of their
  // segments filling /dev/shm; two always may wait, however large (the
  // one in the consumer's hands and the next). Not for a process's own
  // mailbox, which only it reads, nor counted there.
  if (target != self_) {
    if (const errc room = wait_for_blob_room(*local, box, header.flags, payload.size(), deadline, check);
        room != errc::ok) {
      return room;
    }
  }
  const std::string blob = blob_create(*arena_, payload);
  blob_ref ref{};
  ref.size = payload.size();
  std::strncpy(ref.name, blob.c_str(), sizeof ref.name - 1);
  const errc result = write_record(*local, box, header, header.flags | flag_blob, std::as_bytes(std::span(&ref, 1)),
                                   deadline, check, target != self_ ? payload.size() : 0);
  if (result != errc::ok) bip::shared_memory_object::remove(blob.c_str());
  return result;
}

errc sender::wait_for_blob_room(local_lane& local, mailbox* box, std::uint32_t flags, std::uint64_t bytes,
                                send_deadline& deadline, const wait_check& check) {
  const std::uint64_t budget = std::max<std::uint64_t>(arena_->header()->max_message_size, box->lane_capacity);
  for (;;) {
    lane* oldest = nullptr;
    std::uint32_t seq = 0;
    std::optional<steady::time_point> now;
    {
      producer_guard guard(local.mutex);
      const std::uint64_t queued = local.blobs_queued();
      if (local.blobs.size() < blobs_always_queued || queued + bytes <= budget) return errc::ok;
      if (!deadline) return errc::full;
      if (box->closed.load(std::memory_order_acquire) == mailbox_closed && (flags & flag_system) == 0) {
        return errc::closed;
      }
      now = steady::now();
      if (*now >= deadline.when()) return errc::timeout;
      if (check.verdict != nullptr) {
        if (errc verdict = check.verdict(check.context); verdict != errc::ok) return verdict;
      }
      // Parked as a producer waiting for room, on the lane of the oldest
      // large message, whose commit wakes it (lane_commit) once a quarter
      // of that lane is free; a park ends after park_slice in any case.
      oldest = local.blobs.front().in;
      seq = oldest->space_seq.load(std::memory_order_acquire);
      oldest->producer_waiting.fetch_or(lane_waits_for_space, std::memory_order_relaxed);
      wait_fence();  // pairs with lane_commit's signal_fence
      if (local.blobs_queued() != queued) {
        oldest->producer_waiting.fetch_and(~lane_waits_for_space, std::memory_order_relaxed);
        continue;
      }
    }
    // Without the lock: the process's other threads still send to this
    // mailbox meanwhile (a try_send returns at once, a small message
    // goes into the lane).
    futex_wait(oldest->space_seq, seq, std::min<steady::duration>(park_slice, deadline.when() - *now));
    producer_guard guard(local.mutex);
    oldest->producer_waiting.fetch_and(~lane_waits_for_space, std::memory_order_relaxed);
  }
}

namespace {

// Field by field from values in registers, never as a copy of an envelope
// in memory (see write_record).
template <class T>
void put(std::byte* at, T value) noexcept {
  std::memcpy(at, &value, sizeof value);
}

void fill(std::byte* at, std::uint64_t type, std::uint64_t correlation, std::uint32_t sender, std::uint32_t flags,
          std::span<const std::byte> body) noexcept {
  const auto length = static_cast<std::uint32_t>(body.size());
  static_assert(offsetof(envelope, correlation) == 8 && offsetof(envelope, sender) == 16 &&
                offsetof(envelope, flags) == 20 && offsetof(envelope, length) == 24 && offsetof(envelope, check) == 28);
  put(at, type);
  put(at + 8, correlation);
  put(at + 16, sender);
  put(at + 20, flags);
  put(at + 24, length);
  put(at + 28, envelope_check_of(envelope{type, correlation, sender, flags, length, 0}));
  if (!body.empty()) std::memcpy(at + sizeof(envelope), body.data(), body.size());
}

}  // namespace

errc sender::write_record(local_lane& local, mailbox* box, const message_header& header, std::uint32_t flags,
                          std::span<const std::byte> body, send_deadline& deadline, const wait_check& check,
                          std::uint64_t blob_bytes) {
  const std::size_t size = record_size_for(body.size());
  producer_guard guard(local.mutex);
  lane* l = local.writer.get();
  std::optional<steady::time_point> spin_until;  // read the clock only once the lane was full
  errc refused = errc::full;
  unsigned backoff = 1;
  for (;;) {
    std::byte* at = local.writer.reserve(local.writer.line_padded(size));
    if (at == nullptr && grow(local, box, size, refused)) {
      l = local.writer.get();
      wake_consumer(box);  // it must pass the link marker to see what comes next
      continue;
    }
    if (at == nullptr && size > lane_max_record(local.writer.get()->capacity)) {
      return refused;  // only a larger lane could take it, and there is none
    }
    if (at == nullptr && deadline) {
      if (box->closed.load(std::memory_order_acquire) == mailbox_closed && (flags & flag_system) == 0) {
        return errc::closed;
      }
      const auto now = steady::now();
      if (now >= deadline.when()) return errc::timeout;
      if (!spin_until) spin_until = now + spin_for;
      if (now < *spin_until) {
        // Resume once an eighth of the ring is free (or all of it a record
        // needs), looking at `head` less and less often: about every 1.2 µs
        // at most, with the pause of 19 ns measured on the development VM.
        const std::uint64_t want =
            std::min<std::uint64_t>(std::max<std::uint64_t>(l->capacity / 8, 2 * size + 2 * link_size), l->capacity);
        do {
          for (unsigned k = 0; k < backoff; ++k) _mm_pause();
          backoff = std::min(backoff * 2, 64U);
        } while (!local.writer.has_room(want) && steady::now() < *spin_until);
        continue;
      }
      if (check.verdict != nullptr) {
        if (errc verdict = check.verdict(check.context); verdict != errc::ok) return verdict;
      }
      const std::uint32_t seq = l->space_seq.load(std::memory_order_acquire);
      l->producer_waiting.fetch_or(lane_waits_for_space, std::memory_order_relaxed);
      wait_fence();  // pairs with lane_commit's signal_fence
      at = local.writer.reserve(local.writer.line_padded(size));  // the consumer may have made room meanwhile
      if (at == nullptr) futex_wait(l->space_seq, seq, std::min<steady::duration>(park_slice, deadline.when() - now));
      l->producer_waiting.fetch_and(~lane_waits_for_space, std::memory_order_relaxed);
      if (at == nullptr) continue;
    }
    if (at == nullptr) return errc::full;  // the lane still works: what waits in it will drain
    fill(at, header.type, header.correlation, self_, flags, body);
    local.writer.publish();
    if (blob_bytes != 0) {
      local.blobs.push_back({local.writer.get(), local.writer.tail(), blob_bytes});
      local.blob_bytes += blob_bytes;
    }
    wake_consumer(box);
    return errc::ok;
  }
}

void receiver::refresh_lanes() {
  const std::uint32_t seq = box_->lanes_seq.load(std::memory_order_acquire);
  if (seq == seen_lanes_seq_) return;
  seen_lanes_seq_ = seq;
  lanes_.clear();
  index_of_.assign(max_slots, no_lane);
  for (std::uint32_t word = 0; word < max_slots / 64; ++word) {
    std::uint64_t bits = box_->lane_bits[word].load(std::memory_order_acquire);
    while (bits != 0) {
      const auto bit = static_cast<std::uint32_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      const std::uint32_t sender_slot = word * 64 + bit;
      // The bit is set after the offset is stored; a zero offset here would
      // be a corrupt table, so the lane is skipped rather than trusted.
      lane* l = arena_->lane_at(box_->lane_offset[sender_slot].load(std::memory_order_acquire));
      if (l != nullptr && l->sender == sender_slot) {
        index_of_[sender_slot] = static_cast<std::uint16_t>(lanes_.size());
        lanes_.push_back({l, 0});
      } else {
        on_problem_(sender_slot, "lane table entry does not point at a lane");
      }
    }
  }
  if (cursor_ >= lanes_.size()) cursor_ = 0;
}

static_assert(max_slots < 0xFFFF, "lane indices are 16-bit, with 0xFFFF for none");

bool receiver::prefer(std::uint32_t sender) {
  refresh_lanes();
  if (sender >= index_of_.size() || index_of_[sender] == no_lane) return false;
  auto& view = lanes_[index_of_[sender]];
  if (!lane_has_more(view.l, view.cached_tail)) {
    // A waiter for this sender's answer, as poll() for a consumer that
    // waits: from the prefetch_after-th look on, each look also prefetches
    // the line the answer will start on.
    if (empty_polls_ == prefetch_after) {
      lane_prefetch_next(view.l);
    } else {
      ++empty_polls_;
    }
    return false;
  }
  cursor_ = index_of_[sender];
  burst_ = 0;
  return true;
}

std::optional<delivery> receiver::poll() {
  refresh_lanes();
  const std::size_t count = lanes_.size();
  for (std::size_t tried = 0; tried < count; ++tried) {
    lane* l = lanes_[cursor_].l;
    std::uint64_t& cached_tail = lanes_[cursor_].cached_tail;
    if (!lane_has_more(l, cached_tail)) {  // two loads, nothing built
      if (empty_polls_ == prefetch_after) lane_prefetch_next(l);
      burst_ = 0;
      if (++cursor_ == count) cursor_ = 0;
      continue;
    }
    read_result r = lane_peek(l, cached_tail);
    if (r.status == read_status::record) {
      std::string problem;
      auto parsed = parse_record(r.record, problem);
      if (!parsed) {
        on_problem_(l->sender, problem);
        arena_->header()->corruptions.fetch_add(1, std::memory_order_relaxed);
        lane_commit(l, r.next);  // the record's size was sound: skip just it
        continue;
      }
      if (++burst_ >= burst_limit) {
        burst_ = 0;
        if (++cursor_ == count) cursor_ = 0;
      }
      last_sender_ = l->sender;
      waited_ = empty_polls_ == prefetch_after;
      empty_polls_ = 0;
      delivery d{l, r.position, r.next, parsed->head, parsed->body, {}};
      if ((parsed->head.flags & flag_blob) != 0) {
        blob_ref ref;
        std::memcpy(&ref, parsed->body.data(), sizeof ref);
        if (!blob_valid_name(*arena_, ref.name)) {
          on_problem_(l->sender, "blob name does not belong to this run");
          lane_commit(l, r.next);
          continue;
        }
        try {
          bip::shared_memory_object shm(bip::open_only, ref.name, bip::read_only);
          auto blob = std::make_shared<blob_mapping>(blob_mapping{ref.name, bip::mapped_region(shm, bip::read_only)});
          if (blob->region.get_size() < ref.size) throw std::runtime_error("blob shorter than its record says");
          d.payload = {static_cast<const std::byte*>(blob->region.get_address()), static_cast<std::size_t>(ref.size)};
          d.blob = std::move(blob);
        } catch (const std::exception& e) {
          on_problem_(l->sender, std::string("blob ") + ref.name + ": " + e.what());
          bip::shared_memory_object::remove(ref.name);
          lane_commit(l, r.next);
          continue;
        }
      }
      return d;
    }
    if (r.status == read_status::link) {
      // The producer moved on: repoint the table first, so that a consumer
      // restarted from here on starts at the new lane, then read it.
      const std::uint64_t next = l->next_lane.load(std::memory_order_acquire);
      lane* successor = arena_->lane_at(next);
      if (successor == nullptr || successor->sender != l->sender) {
        on_problem_(l->sender, "link marker to offset " + std::to_string(next) + ", which is not a lane of this sender");
        lane_commit(l, r.next);
        continue;
      }
      successor->delivered.store(l->delivered.load(std::memory_order_relaxed), std::memory_order_relaxed);
      box_->lane_offset[l->sender].store(next, std::memory_order_release);
      lane_commit(l, r.next);
      lanes_[cursor_] = {successor, 0};
      --tried;  // the same sender again, in its new lane
      continue;
    }
    if (r.status == read_status::corrupt) {
      on_problem_(l->sender, r.problem + " (at byte " + std::to_string(r.position) + ")");
      arena_->header()->corruptions.fetch_add(1, std::memory_order_relaxed);
      lane_commit(l, r.next);
      continue;
    }
    burst_ = 0;
    if (++cursor_ == count) cursor_ = 0;
  }
  if (empty_polls_ < prefetch_after) ++empty_polls_;
  return std::nullopt;
}

std::optional<delivery> receiver::next(steady::duration timeout, bool spin) {
  // The clock costs ~30 ns on these VMs: a record already waiting is taken
  // before it is read.
  if (auto d = poll()) return d;
  if (timeout <= steady::duration::zero()) return std::nullopt;
  // Nor is it read for a record that comes within the first 16 polls (a
  // hot round trip): such a wait counts as none, and the timeout starts
  // after them, a fraction of a microsecond late.
  std::optional<steady::time_point> start;
  steady::time_point deadline;
  bool unfenced = spin_.slow();  // this wait's first sleep may skip the membarrier
  for (unsigned spins = 1;; ++spins) {
    if (auto d = poll()) {
      spin_.waited(start ? steady::now() - *start : steady::duration::zero());
      return d;
    }
    if (spins % 16 != 0) {  // the clock once in 16 polls
      _mm_pause();
      continue;
    }
    const auto now = steady::now();
    if (!start) {
      start = now;
      deadline = now + timeout;
    }
    if (now >= deadline) {
      spin_.waited(now - *start);
      return std::nullopt;
    }
    if (owner_ < max_slots) {
      const int cpu = pinned_cpu(now);
      note_wait_cpu(arena_->slot(owner_), cpu);
      // Its sender cannot write the next record while this spin holds the
      // CPU they are both pinned to.
      if (spin && last_sender_ < max_slots && last_sender_ != owner_ &&
          waits_on_cpu(arena_->slot(last_sender_), cpu)) {
        spin = false;
      }
    }
    if (spin && now - *start < spin_.get()) {
      _mm_pause();
      continue;
    }
    const std::uint32_t seq = box_->wake_seq.load(std::memory_order_acquire);
    arm_wake(box_);
    box_->parked.fetch_add(1, std::memory_order_relaxed);
    // Pairs with wake_consumer's signal_fence; a slow waiter's first sleep
    // is short and unfenced (park_fence, futex.hpp).
    const auto longest = park_fence(std::exchange(unfenced, false), std::min<steady::duration>(idle_park_slice, deadline - now));
    auto d = poll();
    if (!d && box_->closed.load(std::memory_order_acquire) == 0) futex_wait(box_->wake_seq, seq, longest);
    box_->parked.fetch_sub(1, std::memory_order_relaxed);
    if (d) return d;
    if (box_->closed.load(std::memory_order_acquire) != 0) return std::nullopt;  // let the caller see the close
  }
}

void wake_progress_waiter(const arena& a, const lane* l, std::uint32_t waiting) noexcept {
  if ((waiting & lane_waits_for_progress) == 0 || l->sender >= max_slots) return;
  std::atomic<std::uint32_t>& word = a.slot(l->sender).progress_seq;
  word.fetch_add(1, std::memory_order_release);
  futex_wake(word, INT32_MAX);
}

void evict_policy::next_window() noexcept {
  count_ = 0;
  if (lane_eviction() != eviction::adaptive) return;
  const auto now = steady::now();
  if (timing_) {
    const double per = std::chrono::duration<double, std::nano>(now - start_).count() / window;
    double& cost = cost_[on_ ? 1 : 0];
    // The newest window weighs most: a mode measured while the lanes grew
    // (page faults) or the CPUs moved must not stay condemned.
    if (per < dense_ns) cost = cost == 0 ? per : (cost + 3 * per) / 4;
  }
  timing_ = true;
  start_ = now;
  ++windows_;
  if (windows_ <= warm_up || cost_[1] == 0 || cost_[0] == 0) {
    on_ = !on_;  // both modes in turn first
    return;
  }
  const bool best = cost_[1] <= cost_[0];
  on_ = windows_ % explore_every == 0 ? !best : best;
}

void receiver::commit(const delivery& d) {
  if (evict_.on() && !waited_) lane_evict(d.from, d.position, d.next);
  evict_.committed();
  // This process is the count's only writer: no locked add.
  d.from->delivered.store(d.from->delivered.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  wake_progress_waiter(*arena_, d.from, lane_commit(d.from, d.next));
  if (d.blob) bip::shared_memory_object::remove(d.blob->name.c_str());
}

bool receiver::all_empty() {
  refresh_lanes();
  for (const auto& view : lanes_) {
    if (!lane_empty(view.l)) return false;
  }
  return true;
}

}  // namespace procactor::detail
