// The link between the nodes of a multi-host run: one MPI rank per node, and
// in each node one gateway process, the only caller of MPI, that owns one
// mpi_link (issue 9). The link moves frames — an actor message's envelope
// fields and its cereal payload, unchanged — between the ranks of
// MPI_COMM_WORLD; what a frame means (which mailbox, which lane) is the
// gateway's business.
//
// Contract
// --------
// * Single-threaded: every call on a link, and on MPI, comes from the thread
//   that made the environment (MPI_THREAD_FUNNELED). Membership is fixed:
//   the ranks of MPI_COMM_WORLD at start are the nodes for the whole run.
// * One tag carries every data-side frame (data, credit, heartbeat, the
//   close handshake) on a communicator of the link's own. MPI's
//   non-overtaking rule (two messages from one rank on one communicator and
//   tag are matched in the order they were sent) and per-peer receive order
//   on this side give: frames to one (peer, target) arrive in the order of
//   the try_send calls that took them. Control messages travel on a second
//   tag and are ordered among themselves per peer, not against data.
// * Batching: small frames to a peer are appended to one buffer
//   (link_options::batch_bytes) sent as one MPI message when it is full, on
//   flush(), or at the end of progress(), so a caller that queues many
//   frames and then calls progress() pays one MPI message for them all. A
//   frame that does not fit an empty buffer goes alone, after the buffer
//   (order kept).
// * Credits: a frame costs frame_cost(length) bytes against the window of
//   its (peer, target). try_send refuses (returns false) while the window
//   has no room for it; an empty window takes any frame, so a frame larger
//   than the window still goes, alone. The receiving side returns credit
//   with consumed() once the frame is where it belongs (in the target's
//   mailbox): a full remote mailbox therefore holds its senders back across
//   the network instead of losing frames. A refused frame stays with the
//   caller, who retries after progress; for order, later frames to that
//   (peer, target) must wait behind it.
//   Credit rides with the next batch to that peer. It goes alone only when
//   a (peer, target) is owed a quarter of its window, when it has been owed
//   for link_options::credit_delay, or when wait() is about to sleep: a
//   ping-pong then costs one MPI message each way, not two (a data frame
//   and, after it, a batch of credit alone).
// * Failure is fatal to the run: any MPI error, a malformed frame, or a peer
//   not heard from for link_options::peer_timeout throws mpi_error naming
//   the peer, and every later call on the link throws it again. Open MPI
//   4.1 tells an application nothing when a peer dies (its error handler is
//   not called: receives wait, and mpirun by default kills the whole job;
//   tests/cluster/CMakeLists.txt says what was measured), so the link runs
//   its own detector: each side sends a heartbeat frame to a peer it has
//   sent nothing to for heartbeat_interval, and any message counts as a
//   sign of life. After a failure the environment skips MPI_Finalize, which
//   waits for every rank and would hang on a dead one.
// * close() is a two-phase handshake that leaves nothing in flight: send
//   everything, then `bye` (no more data from me) on the data tag and on the
//   control tag; keep receiving (and returning credit) until every peer's
//   two byes came; then `done` (nothing more at all) and wait for every
//   peer's `done` and for our sends to complete.
// * Portable MPI-3 C API only (MPI_Improbe / MPI_Imrecv), nothing specific
//   to Open MPI; MPICH runs it unchanged. Bytes travel as MPI_BYTE, not
//   converted: the nodes of a run share byte order.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace procactor::cluster {

// An MPI error, a lost peer or a protocol violation. peer() is the rank it
// concerns (-1 when none: the communicator itself failed); code() the MPI
// error code (0 when MPI reported nothing, e.g. a heartbeat timeout).
class mpi_error : public std::runtime_error {
 public:
  mpi_error(int peer, int code, const std::string& what);
  [[nodiscard]] int peer() const noexcept { return peer_; }
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int peer_;
  int code_;
};

// MPI_Init_thread (MPI_THREAD_FUNNELED) / MPI_Finalize. One per process,
// made first thing in main by the thread that will make every MPI call.
// MPI_Finalize is skipped after a link failed or was destroyed unclosed:
// Open MPI's waits for every rank, and a dead or stuck one would hang it;
// the process then exits without it, which mpirun reports as a failure of
// the job unless recovery was enabled.
class environment {
 public:
  environment(int& argc, char**& argv);
  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
  bool owns_ = false;  // false when MPI was initialised by someone else
};

enum class frame_kind : std::uint32_t {
  data = 1,
  credit = 2,     // correlation: bytes of credit returned for `target`
  heartbeat = 3,  // a sign of life, nothing else
  bye = 4,        // close: no more data frames from this rank
  done = 5,       // close: nothing more at all from this rank
};

// Where a data frame goes in the target's slot.
inline constexpr std::uint32_t channel_mailbox = 0;
inline constexpr std::uint32_t channel_reply_inbox = 1;

// The fixed wire header of every frame on the data tag. For data frames the
// fields are the mailbox record's envelope (runtime/envelope.hpp) plus where
// it goes; `kind` and `length` are the link's to set.
struct frame_header {
  std::uint32_t kind = static_cast<std::uint32_t>(frame_kind::data);
  std::uint32_t target = 0;  // slot on the receiving node
  std::uint32_t sender = 0;  // slot on the sending node
  std::uint32_t flags = 0;
  std::uint64_t type = 0;
  std::uint64_t correlation = 0;
  std::uint32_t length = 0;  // payload bytes that follow
  std::uint32_t channel = channel_mailbox;
};
static_assert(sizeof(frame_header) == 40, "the wire header has no padding");

// What a frame costs against its credit window (and what consumed() gives
// back): the header too, so that even empty frames are bounded.
constexpr std::uint64_t frame_cost(std::uint32_t length) noexcept {
  return sizeof(frame_header) + length;
}

struct link_options {
  std::uint64_t credit_window = 1U << 20;    // bytes per (peer, target)
  std::size_t batch_bytes = 64U << 10;       // one MPI message of small frames
  std::chrono::milliseconds heartbeat_interval{200};
  std::chrono::milliseconds peer_timeout{3000};  // zero: never declare a peer lost
  std::chrono::microseconds first_sleep{50};     // wait()'s first back-off step
  // Longest that returned credit waits for a batch to ride with (see
  // Credits above).
  std::chrono::microseconds credit_delay{1000};
};

// The peer timeout of a node's link (launcher/node.cpp). Longer than Open
// MPI's own detection of a lost host, its daemons' out-of-band keepalive
// (about 3 s with the settings `procactor launch` gives mpirun): a daemon
// on a host that was cut off ends the job there before a rank of its own
// gives up on a peer. A rank that ended first would have the daemon send
// its exit report on a channel that no longer answers; Linux stops
// keepalive on a socket with data unacknowledged, and the daemon would sit
// in TCP's retransmission timeout (about 15 minutes).
inline constexpr std::chrono::milliseconds node_peer_timeout{6000};

// Running totals, for metrics. Payload bytes only (no headers).
struct link_counters {
  std::uint64_t frames_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t batches_sent = 0;      // MPI messages on the data tag
  std::uint64_t batches_received = 0;
  std::uint64_t control_sent = 0;
  std::uint64_t control_received = 0;
  std::uint64_t credit_frames_sent = 0;
  std::uint64_t credit_stalls = 0;     // try_send calls refused for credit
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t idle_wakeups = 0;      // wait(): sleeps after which progress was polled
};

class mpi_link {
 public:
  // peer, header, payload (valid during the call only).
  using data_handler = std::function<void(int, const frame_header&, std::span<const std::byte>)>;
  // peer, bytes (valid during the call only).
  using control_handler = std::function<void(int, std::span<const std::byte>)>;

  // Collective over MPI_COMM_WORLD (it duplicates it): every rank makes its
  // links in the same order.
  explicit mpi_link(environment& env, link_options options = {});
  ~mpi_link();
  mpi_link(const mpi_link&) = delete;
  mpi_link& operator=(const mpi_link&) = delete;

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }

  // Handlers run inside progress(), wait() and close(). They may call
  // try_send, send_control and consumed, not progress, wait or close.
  void on_data(data_handler handler) { on_data_ = std::move(handler); }
  void on_control(control_handler handler) { on_control_ = std::move(handler); }

  // Queues a data frame for `peer` (header.kind and header.length are set
  // here). False, and nothing queued, when the (peer, target) window has no
  // room for it. The payload is copied; the span may be reused at once.
  bool try_send(int peer, const frame_header& header, std::span<const std::byte> payload);

  // The receiving side has put `bytes` worth of frames (sum of frame_cost)
  // from `peer` for `target` where they belong: credit goes back to `peer`
  // with the next batch to it.
  void consumed(int peer, std::uint32_t target, std::uint64_t bytes);

  // Not subject to credit; delivered to on_control in order per peer.
  void send_control(int peer, std::span<const std::byte> bytes);

  // Room left in a (peer, target) window.
  [[nodiscard]] std::uint64_t credit_available(int peer, std::uint32_t target) const;

  // Sends every queued batch now, with the credit owed to its peer; and
  // credit that is due (see Credits above).
  void flush();

  // Never blocks: completes sends, receives and dispatches what has
  // arrived, checks peers' liveness, sends what is queued. True when it did
  // something the caller may be waiting for (a frame, a control message or
  // credit arrived, a send completed or went out), false when idle.
  bool progress();

  // Calls progress until it does something: spinning for `spin`, then
  // sleeping between calls, first_sleep doubling up to `max_sleep`. False
  // when `timeout` passed first (a gateway also has local mailboxes to
  // watch).
  bool wait(std::chrono::microseconds spin, std::chrono::microseconds max_sleep,
            std::chrono::microseconds timeout = std::chrono::microseconds::max());

  // The handshake of the contract. Frames the caller still holds (refused
  // by try_send) are the caller's to send first.
  void close();
  [[nodiscard]] bool closed() const noexcept { return state_ == state::closed; }

  [[nodiscard]] const link_counters& counters() const noexcept { return counters_; }

 private:
  // Owned bytes without the zero-fill a std::vector would do on resize.
  struct buffer {
    std::unique_ptr<std::byte[]> data;
    std::size_t capacity = 0;
    std::size_t size = 0;
    void reserve(std::size_t bytes);
  };
  struct pending_receive {
    MPI_Request request = MPI_REQUEST_NULL;
    buffer bytes;
  };
  struct peer_state {
    buffer batch;                                      // data frames being gathered
    std::unordered_map<std::uint32_t, std::uint64_t> in_flight;   // target -> bytes
    std::unordered_map<std::uint32_t, std::uint64_t> credit_owed;  // target -> bytes
    // Since when some credit_owed entry is not 0; none while all are.
    std::optional<std::chrono::steady_clock::time_point> owed_since;
    std::deque<pending_receive> data_receives;    // matched, in match order
    std::deque<pending_receive> control_receives;
    std::chrono::steady_clock::time_point last_heard;
    std::chrono::steady_clock::time_point last_sent;
    bool bye_data = false;     // its bye on the data tag came
    bool bye_control = false;  // its bye on the control tag came
    bool done = false;         // its done came: nothing more from it
  };
  enum class state { open, saying_bye, saying_done, closed };

  void check_usable() const;
  // The time for a stamp: now_ inside a progress call, the clock outside one.
  [[nodiscard]] std::chrono::steady_clock::time_point stamp_time() const;
  [[noreturn]] void fail(int peer, int code, const std::string& what);
  void check(int code, int peer, const char* call);
  peer_state& peer_at(int peer, const char* call);
  void append_frame(int peer, const frame_header& header, std::span<const std::byte> payload);
  void send_batch(int peer);
  void send_batches();
  // bye (on both tags) or done to every peer, behind what was queued.
  void send_to_every_peer(frame_kind kind);
  void send_control_message(int peer, std::uint32_t kind, std::span<const std::byte> bytes);
  void recycle(buffer&& bytes);
  void start_send(int peer, int tag, buffer&& bytes);
  bool complete_sends();
  void match_arrivals();
  bool hand_over(int peer, int tag, std::deque<pending_receive>& queue);
  bool dispatch_data(int peer, const buffer& bytes);
  bool dispatch_control(int peer, const buffer& bytes);
  void check_liveness(std::chrono::steady_clock::time_point now);
  // Credit goes out when due (see Credits above), or all of it with
  // `every_credit`.
  bool queue_credits_and_heartbeats(std::chrono::steady_clock::time_point now, bool every_credit);
  buffer take_buffer(std::size_t bytes);
  void drain_until(const std::function<bool()>& finished);

  link_options options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  state state_ = state::open;
  bool in_progress_ = false;
  std::string failure_;  // non-empty once failed: every call throws it again
  int failed_peer_ = -1;
  int failed_code_ = 0;
  std::vector<peer_state> peers_;
  std::vector<MPI_Request> send_requests_;  // parallel: send_buffers_, send_peers_
  std::vector<buffer> send_buffers_;
  std::vector<int> send_peers_;
  std::vector<buffer> spare_buffers_;
  std::chrono::steady_clock::time_point now_;  // read once per progress()
  std::chrono::steady_clock::time_point last_progress_;
  data_handler on_data_;
  control_handler on_control_;
  link_counters counters_;
};

}  // namespace procactor::cluster
