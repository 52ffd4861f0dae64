#include "cluster/mpi_link.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <thread>

namespace procactor::cluster {

namespace {

// Two tags on the link's own communicator: every data-side frame on one, so
// MPI's non-overtaking rule orders them; control messages on the other.
constexpr int data_tag = 1;
constexpr int control_tag = 2;

// A control message is an 8-byte prefix (kind, unused) and the caller's bytes.
constexpr std::uint32_t control_user = 1;
constexpr std::uint32_t control_bye = 2;
constexpr std::size_t control_prefix = 8;

// Set once a link failed or was dropped unclosed: MPI_Finalize would then
// wait for ranks that may never come.
std::atomic<bool> mpi_unclean{false};

using clock = std::chrono::steady_clock;

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

// Holds progress() against re-entry from a handler.
class reentry_guard {
 public:
  explicit reentry_guard(bool& flag) : flag_(flag) {
    if (flag_) throw std::logic_error("mpi_link: progress, wait or close called from a handler");
    flag_ = true;
  }
  ~reentry_guard() { flag_ = false; }
  reentry_guard(const reentry_guard&) = delete;
  reentry_guard& operator=(const reentry_guard&) = delete;

 private:
  bool& flag_;
};

}  // namespace

mpi_error::mpi_error(int peer, int code, const std::string& what)
    : std::runtime_error(what), peer_(peer), code_(code) {}

environment::environment(int& argc, char**& argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  int provided = 0;
  if (initialised == 0) {
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      throw mpi_error(-1, 0, "MPI_Init_thread failed");
    }
    owns_ = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_FUNNELED) {
    throw mpi_error(-1, 0, "the MPI library does not provide MPI_THREAD_FUNNELED");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

environment::~environment() {
  if (owns_ && !mpi_unclean.load()) MPI_Finalize();
}

void mpi_link::buffer::reserve(std::size_t bytes) {
  if (capacity >= bytes) return;
  data = std::make_unique_for_overwrite<std::byte[]>(bytes);
  capacity = bytes;
}

mpi_link::mpi_link(environment& env, link_options options) : options_(options) {
  if (options_.batch_bytes < 2 * sizeof(frame_header)) throw std::invalid_argument("mpi_link: batch_bytes too small");
  if (options_.credit_window == 0) throw std::invalid_argument("mpi_link: credit_window is zero");
  rank_ = env.rank();
  size_ = env.size();
  // On MPI_COMM_WORLD's handler (fatal by default): nothing is in flight yet.
  if (MPI_Comm_dup(MPI_COMM_WORLD, &comm_) != MPI_SUCCESS) throw mpi_error(-1, 0, "MPI_Comm_dup failed");
  // From here on a failed call returns its code, and fail() names the peer.
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  peers_.resize(static_cast<std::size_t>(size_));
  const auto now = clock::now();
  for (auto& p : peers_) p.last_heard = p.last_sent = now;
  last_progress_ = now_ = now;
}

mpi_link::~mpi_link() {
  if (state_ == state::closed || comm_ == MPI_COMM_NULL) return;
  // Dropped unclosed (an exception, a failed peer): MPI may still read our
  // send buffers and write the receive buffers, so they are leaked, not
  // freed, and the communicator is left alone; MPI_Finalize is skipped.
  mpi_unclean.store(true);
  for (auto& b : send_buffers_) static_cast<void>(b.data.release());
  for (auto& p : peers_) {
    for (auto& r : p.data_receives) static_cast<void>(r.bytes.data.release());
    for (auto& r : p.control_receives) static_cast<void>(r.bytes.data.release());
  }
}

// now_ is the time of the last progress call: a send or a credit from
// flush(), close() or the caller's own code outside one gets the time it
// happened.
clock::time_point mpi_link::stamp_time() const { return in_progress_ ? now_ : clock::now(); }

void mpi_link::check_usable() const {
  if (!failure_.empty()) throw mpi_error(failed_peer_, failed_code_, failure_);
}

void mpi_link::fail(int peer, int code, const std::string& what) {
  failure_ = what;
  failed_peer_ = peer;
  failed_code_ = code;
  mpi_unclean.store(true);
  throw mpi_error(peer, code, what);
}

void mpi_link::check(int code, int peer, const char* call) {
  if (code == MPI_SUCCESS) return;
  fail(peer, code, std::string(call) + (peer >= 0 ? " with rank " + std::to_string(peer) : std::string()) +
                       " failed: " + mpi_error_string(code));
}

mpi_link::peer_state& mpi_link::peer_at(int peer, const char* call) {
  if (peer < 0 || peer >= size_ || peer == rank_) {
    throw std::invalid_argument(std::string("mpi_link::") + call + ": no peer rank " + std::to_string(peer) +
                                " (this is rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ")");
  }
  return peers_[static_cast<std::size_t>(peer)];
}

mpi_link::buffer mpi_link::take_buffer(std::size_t bytes) {
  buffer b;
  if (!spare_buffers_.empty() && spare_buffers_.back().capacity >= bytes) {
    b = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  b.reserve(std::max(bytes, std::size_t{1}));
  b.size = 0;
  return b;
}

void mpi_link::recycle(buffer&& bytes) {
  // Batch-sized buffers only, and a few: a 16 MiB frame's is let go.
  if (bytes.capacity <= 2 * options_.batch_bytes && spare_buffers_.size() < 32) {
    spare_buffers_.push_back(std::move(bytes));
  }
}

void mpi_link::send_control_message(int peer, std::uint32_t kind, std::span<const std::byte> bytes) {
  buffer message = take_buffer(control_prefix + bytes.size());
  std::memset(message.data.get(), 0, control_prefix);
  std::memcpy(message.data.get(), &kind, sizeof kind);
  if (!bytes.empty()) std::memcpy(message.data.get() + control_prefix, bytes.data(), bytes.size());
  message.size = control_prefix + bytes.size();
  start_send(peer, control_tag, std::move(message));
}

void mpi_link::start_send(int peer, int tag, buffer&& bytes) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Isend(bytes.data.get(), static_cast<int>(bytes.size), MPI_BYTE, peer, tag, comm_, &request), peer,
        "MPI_Isend");
  send_requests_.push_back(request);
  send_buffers_.push_back(std::move(bytes));
  send_peers_.push_back(peer);
  peers_[static_cast<std::size_t>(peer)].last_sent = stamp_time();
  if (tag == data_tag) ++counters_.batches_sent;
}

void mpi_link::send_batch(int peer) {
  auto& p = peers_[static_cast<std::size_t>(peer)];
  if (p.batch.size == 0) return;
  start_send(peer, data_tag, std::move(p.batch));
  p.batch = buffer{};
}

void mpi_link::append_frame(int peer, const frame_header& header, std::span<const std::byte> payload) {
  auto& p = peers_[static_cast<std::size_t>(peer)];
  const std::size_t wire = sizeof header + payload.size();
  if (wire > options_.batch_bytes) {
    // Alone, behind what is gathered for this peer so order holds.
    send_batch(peer);
    buffer alone = take_buffer(wire);
    std::memcpy(alone.data.get(), &header, sizeof header);
    if (!payload.empty()) std::memcpy(alone.data.get() + sizeof header, payload.data(), payload.size());
    alone.size = wire;
    start_send(peer, data_tag, std::move(alone));
    return;
  }
  if (p.batch.size + wire > options_.batch_bytes) send_batch(peer);
  if (p.batch.capacity < options_.batch_bytes) p.batch = take_buffer(options_.batch_bytes);
  std::byte* at = p.batch.data.get() + p.batch.size;
  std::memcpy(at, &header, sizeof header);
  if (!payload.empty()) std::memcpy(at + sizeof header, payload.data(), payload.size());
  p.batch.size += wire;
}

bool mpi_link::try_send(int peer, const frame_header& header, std::span<const std::byte> payload) {
  check_usable();
  if (state_ != state::open) throw std::logic_error("mpi_link::try_send after close");
  auto& p = peer_at(peer, "try_send");
  if (payload.size() > static_cast<std::size_t>(INT_MAX) - sizeof(frame_header)) {
    throw std::length_error("mpi_link::try_send: payload of " + std::to_string(payload.size()) +
                            " bytes exceeds one MPI message");
  }
  const auto length = static_cast<std::uint32_t>(payload.size());
  const std::uint64_t cost = frame_cost(length);
  std::uint64_t& used = p.in_flight[header.target];
  // An empty window takes any frame, so one larger than the window goes too.
  if (used != 0 && used + cost > options_.credit_window) {
    ++counters_.credit_stalls;
    return false;
  }
  used += cost;
  frame_header wire = header;
  wire.kind = static_cast<std::uint32_t>(frame_kind::data);
  wire.length = length;
  append_frame(peer, wire, payload);
  ++counters_.frames_sent;
  counters_.bytes_sent += length;
  return true;
}

void mpi_link::consumed(int peer, std::uint32_t target, std::uint64_t bytes) {
  check_usable();
  auto& p = peer_at(peer, "consumed");
  // Once every peer said bye nobody waits for credit, and after our done
  // nothing more may go out.
  if (state_ == state::saying_done || state_ == state::closed) return;
  if (bytes == 0) return;
  p.credit_owed[target] += bytes;
  if (!p.owed_since) p.owed_since = stamp_time();
}

void mpi_link::send_control(int peer, std::span<const std::byte> bytes) {
  check_usable();
  if (state_ != state::open) throw std::logic_error("mpi_link::send_control after close");
  peer_at(peer, "send_control");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) - control_prefix) {
    throw std::length_error("mpi_link::send_control: message exceeds one MPI message");
  }
  send_control_message(peer, control_user, bytes);
  ++counters_.control_sent;
}

std::uint64_t mpi_link::credit_available(int peer, std::uint32_t target) const {
  if (peer < 0 || peer >= size_ || peer == rank_) return 0;
  const auto& in_flight = peers_[static_cast<std::size_t>(peer)].in_flight;
  const auto it = in_flight.find(target);
  const std::uint64_t used = it == in_flight.end() ? 0 : it->second;
  return options_.credit_window - std::min(used, options_.credit_window);
}

void mpi_link::flush() {
  check_usable();
  queue_credits_and_heartbeats(clock::now(), false);  // what is owed rides with the batches
  send_batches();
}

void mpi_link::send_batches() {
  for (int peer = 0; peer < size_; ++peer) {
    if (peer != rank_) send_batch(peer);
  }
}

void mpi_link::send_to_every_peer(frame_kind kind) {
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    frame_header header;
    header.kind = static_cast<std::uint32_t>(kind);
    append_frame(peer, header, {});
    send_batch(peer);
    if (kind == frame_kind::bye) send_control_message(peer, control_bye, {});
  }
}

bool mpi_link::complete_sends() {
  if (send_requests_.empty()) return false;
  const int n = static_cast<int>(send_requests_.size());
  std::vector<int> indices(send_requests_.size());
  std::vector<MPI_Status> statuses(send_requests_.size());
  int completed = 0;
  const int code = MPI_Testsome(n, send_requests_.data(), &completed, indices.data(), statuses.data());
  if (code == MPI_ERR_IN_STATUS) {
    for (int i = 0; i < completed; ++i) {
      const auto k = static_cast<std::size_t>(i);
      check(statuses[k].MPI_ERROR, send_peers_[static_cast<std::size_t>(indices[k])], "MPI_Isend");
    }
  }
  check(code, -1, "MPI_Testsome");
  if (completed == MPI_UNDEFINED || completed == 0) return false;
  // Testsome set the finished requests to MPI_REQUEST_NULL: recycle their
  // buffers and close the gaps, keeping the others in order.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < send_requests_.size(); ++i) {
    if (send_requests_[i] == MPI_REQUEST_NULL) {
      recycle(std::move(send_buffers_[i]));
      continue;
    }
    if (kept != i) {
      send_requests_[kept] = send_requests_[i];
      send_buffers_[kept] = std::move(send_buffers_[i]);
      send_peers_[kept] = send_peers_[i];
    }
    ++kept;
  }
  send_requests_.resize(kept);
  send_buffers_.resize(kept);
  send_peers_.resize(kept);
  return true;
}

void mpi_link::match_arrivals() {
  // One probe for any peer and either tag: each MPI call turns Open MPI's
  // progress engine (a poll of every socket), so a probe per peer and tag
  // would cost a round trip several of them. MPI keeps the order of the
  // messages of one source and tag, which is all the link relies on. A
  // bounded number per call, so that busy peers cannot keep progress()
  // from returning.
  for (int matched = 0; matched < 64 * std::max(1, size_ - 1); ++matched) {
    int flag = 0;
    MPI_Message message = MPI_MESSAGE_NULL;
    MPI_Status status;
    check(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &message, &status), -1, "MPI_Improbe");
    if (flag == 0) break;
    const int peer = status.MPI_SOURCE;
    if (peer < 0 || peer >= size_ || peer == rank_ || (status.MPI_TAG != data_tag && status.MPI_TAG != control_tag)) {
      fail(peer, 0, "a message with tag " + std::to_string(status.MPI_TAG) + " from rank " + std::to_string(peer) +
                        " that the link did not send");
    }
    int count = 0;
    check(MPI_Get_count(&status, MPI_BYTE, &count), peer, "MPI_Get_count");
    pending_receive receive;
    receive.bytes = take_buffer(static_cast<std::size_t>(count));
    receive.bytes.size = static_cast<std::size_t>(count);
    check(MPI_Imrecv(receive.bytes.data.get(), count, MPI_BYTE, &message, &receive.request), peer, "MPI_Imrecv");
    auto& p = peers_[static_cast<std::size_t>(peer)];
    (status.MPI_TAG == data_tag ? p.data_receives : p.control_receives).push_back(std::move(receive));
  }
}

bool mpi_link::hand_over(int peer, int tag, std::deque<pending_receive>& queue) {
  // The receives that completed, in match order.
  bool did = false;
  auto& p = peers_[static_cast<std::size_t>(peer)];
  while (!queue.empty()) {
    int flag = 0;
    MPI_Status status;
    check(MPI_Test(&queue.front().request, &flag, &status), peer, "MPI_Test");
    if (flag == 0) break;
    buffer bytes = std::move(queue.front().bytes);
    queue.pop_front();
    p.last_heard = now_;
    did = (tag == data_tag ? dispatch_data(peer, bytes) : dispatch_control(peer, bytes)) || did;
    recycle(std::move(bytes));
  }
  return did;
}

bool mpi_link::dispatch_data(int peer, const buffer& bytes) {
  auto& p = peers_[static_cast<std::size_t>(peer)];
  const std::string from = " from rank " + std::to_string(peer);
  ++counters_.batches_received;
  bool did = false;
  std::size_t at = 0;
  while (at < bytes.size) {
    if (bytes.size - at < sizeof(frame_header)) fail(peer, 0, "truncated frame header" + from);
    frame_header header;
    std::memcpy(&header, bytes.data.get() + at, sizeof header);
    at += sizeof header;
    if (header.length > bytes.size - at) fail(peer, 0, "frame length past the end of its message" + from);
    const std::span<const std::byte> payload(bytes.data.get() + at, header.length);
    at += header.length;
    if (p.done) fail(peer, 0, "frame after done" + from);
    switch (static_cast<frame_kind>(header.kind)) {
      case frame_kind::data:
        if (p.bye_data) fail(peer, 0, "data frame after bye" + from);
        if (!on_data_) throw std::logic_error("mpi_link: a data frame arrived and no on_data handler is set");
        ++counters_.frames_received;
        counters_.bytes_received += header.length;
        on_data_(peer, header, payload);
        did = true;
        break;
      case frame_kind::credit: {
        std::uint64_t& used = p.in_flight[header.target];
        if (header.correlation > used) fail(peer, 0, "more credit returned than was in flight" + from);
        used -= header.correlation;
        did = true;
        break;
      }
      case frame_kind::heartbeat:
        break;
      case frame_kind::bye:
        p.bye_data = true;
        did = true;
        break;
      case frame_kind::done:
        p.done = true;
        did = true;
        break;
      default:
        fail(peer, 0, "unknown frame kind " + std::to_string(header.kind) + from);
    }
  }
  return did;
}

bool mpi_link::dispatch_control(int peer, const buffer& bytes) {
  auto& p = peers_[static_cast<std::size_t>(peer)];
  const std::string from = " from rank " + std::to_string(peer);
  if (bytes.size < control_prefix) fail(peer, 0, "truncated control message" + from);
  if (p.bye_control) fail(peer, 0, "control message after bye" + from);
  std::uint32_t kind = 0;
  std::memcpy(&kind, bytes.data.get(), sizeof kind);
  if (kind == control_bye) {
    p.bye_control = true;
    return true;
  }
  if (kind != control_user) fail(peer, 0, "unknown control kind " + std::to_string(kind) + from);
  if (!on_control_) throw std::logic_error("mpi_link: a control message arrived and no on_control handler is set");
  ++counters_.control_received;
  on_control_(peer, std::span<const std::byte>(bytes.data.get() + control_prefix, bytes.size - control_prefix));
  return true;
}

void mpi_link::check_liveness(clock::time_point now) {
  if (options_.peer_timeout.count() == 0) return;
  for (int peer = 0; peer < size_; ++peer) {
    const auto& p = peers_[static_cast<std::size_t>(peer)];
    // After its done a peer may finalize and go: silence is expected.
    if (peer == rank_ || p.done) continue;
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_heard);
    if (silent > options_.peer_timeout) {
      fail(peer, 0,
           "rank " + std::to_string(peer) + " lost: nothing heard from it for " + std::to_string(silent.count()) +
               " ms (its process died, its host or network failed, or its link stopped calling progress)");
    }
  }
}

bool mpi_link::queue_credits_and_heartbeats(clock::time_point now, bool every_credit) {
  // After our done nothing more may go out: the peer may already be gone.
  if (state_ == state::saying_done || state_ == state::closed) return false;
  bool queued = false;
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    auto& p = peers_[static_cast<std::size_t>(peer)];
    // All of it when a batch goes to that peer anyway, or when it waited
    // long enough; otherwise only what is a quarter of a window.
    const bool all =
        every_credit || p.batch.size > 0 || (p.owed_since && now - *p.owed_since >= options_.credit_delay);
    bool left = false;
    for (auto& [target, bytes] : p.credit_owed) {
      if (bytes == 0) continue;
      if (!all && bytes < options_.credit_window / 4) {
        left = true;
        continue;
      }
      frame_header credit;
      credit.kind = static_cast<std::uint32_t>(frame_kind::credit);
      credit.target = target;
      credit.correlation = bytes;
      append_frame(peer, credit, {});
      ++counters_.credit_frames_sent;
      bytes = 0;
      queued = true;
    }
    if (!left) p.owed_since.reset();  // what is left keeps its time: it goes no later
    if (p.batch.size == 0 && now - p.last_sent >= options_.heartbeat_interval) {
      frame_header heartbeat;
      heartbeat.kind = static_cast<std::uint32_t>(frame_kind::heartbeat);
      append_frame(peer, heartbeat, {});
      ++counters_.heartbeats_sent;
    }
  }
  return queued;
}

bool mpi_link::progress() {
  check_usable();
  if (state_ == state::closed) throw std::logic_error("mpi_link::progress after close");
  reentry_guard guard(in_progress_);
  now_ = clock::now();
  // A caller that did not poll for a while could not hear anyone: silence
  // during that gap is not the peers' fault.
  if (options_.peer_timeout.count() != 0 && now_ - last_progress_ > options_.peer_timeout / 2) {
    for (auto& p : peers_) p.last_heard = now_;
  }
  last_progress_ = now_;
  complete_sends();
  match_arrivals();
  bool did = false;
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    auto& p = peers_[static_cast<std::size_t>(peer)];
    did = hand_over(peer, data_tag, p.data_receives) || did;
    did = hand_over(peer, control_tag, p.control_receives) || did;
  }
  check_liveness(now_);
  queue_credits_and_heartbeats(now_, false);
  send_batches();
  return did;
}

bool mpi_link::wait(std::chrono::microseconds spin, std::chrono::microseconds max_sleep,
                    std::chrono::microseconds timeout) {
  const auto start = clock::now();
  const bool bounded = timeout != std::chrono::microseconds::max();
  const auto over = [&] { return bounded && now_ - start >= timeout; };
  for (;;) {
    if (progress()) return true;
    if (now_ - start >= spin) break;
    if (over()) return false;
  }
  // Nothing to carry credit back for a while: it goes now, alone.
  if (queue_credits_and_heartbeats(now_, true)) send_batches();
  auto sleep = std::min(options_.first_sleep, max_sleep);
  for (;;) {
    if (over()) return false;
    std::this_thread::sleep_for(sleep);
    ++counters_.idle_wakeups;
    if (progress()) return true;
    sleep = std::min(sleep * 2, max_sleep);
  }
}

void mpi_link::drain_until(const std::function<bool()>& finished) {
  while (!finished()) wait(std::chrono::microseconds(50), std::chrono::microseconds(1000), std::chrono::milliseconds(1));
}

void mpi_link::close() {
  check_usable();
  if (state_ == state::closed) return;
  if (in_progress_) throw std::logic_error("mpi_link::close called from a handler");
  now_ = clock::now();
  const auto every_peer = [this](auto&& said) {
    for (int peer = 0; peer < size_; ++peer) {
      if (peer != rank_ && !said(peers_[static_cast<std::size_t>(peer)])) return false;
    }
    return true;
  };
  // Phase 1: behind everything we sent, bye on both tags; then receive (and
  // return credit) until every peer said bye on both.
  state_ = state::saying_bye;
  send_to_every_peer(frame_kind::bye);
  drain_until([&] { return every_peer([](const peer_state& p) { return p.bye_data && p.bye_control; }); });
  // Phase 2: the last credits, then done; no peer sends data any more, so
  // once every peer's done came nothing is left in flight towards us.
  queue_credits_and_heartbeats(clock::now(), true);
  send_to_every_peer(frame_kind::done);
  state_ = state::saying_done;
  drain_until([&] { return every_peer([](const peer_state& p) { return p.done; }); });
  // Our own sends: a peer finishes only after our done, which is behind
  // all of them, so these complete.
  drain_until([&] {
    complete_sends();
    return send_requests_.empty();
  });
  check(MPI_Comm_free(&comm_), -1, "MPI_Comm_free");
  state_ = state::closed;
}

}  // namespace procactor::cluster
