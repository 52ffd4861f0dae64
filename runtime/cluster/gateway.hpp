// A node's gateway: the one thread of a node supervisor that calls MPI. It
// carries what local actors send to actors on other nodes, and writes what
// other nodes send into local mailboxes (docs/design.md §7a).
//
// Contract
// --------
// * Every node has the whole slot table, in the same order (the gateways
//   check a digest of the names at start). An actor placed elsewhere has a
//   remote slot here (Runtime::remote): a mailbox and an inbox that local
//   senders write into as into any other, and that the gateway consumes.
// * Out: each record of a remote slot's mailbox or inbox goes to the node
//   that runs it as one frame (envelope fields and payload bytes,
//   unchanged; a blob's bytes inline), then is committed here. A frame the
//   link refuses for credit stays the record in hand, so the remote
//   mailbox's fullness reaches local senders as a full lane here.
// * In: a frame is written into the target's mailbox (or inbox) *as its
//   original sender*. On this node that sender is remote, so its lanes have
//   one producer, this thread: per-sender FIFO holds across nodes. A lane
//   that is full keeps the frame here, in order, and its credit is returned
//   only once it is written. So does a frame that comes before this node
//   has declared its whole slot table (the nodes start at their own pace):
//   its target, or the sender its target may answer, may have no slot yet.
// * End of stream: a local instance gone for good is announced to every
//   node (local_finished) once nothing it sent is left in a remote slot
//   here; that frame travels behind its data, and a node reports the
//   instance finished (hooks::remote_finished) only after writing all of it.
//   It also marks that remote slot ended (exited) here: a send to it then
//   fails at once with no_such_actor, as one to a local actor gone for
//   good does.
// * A frame for a local actor gone for good (sent before its end was
//   known there), or that its mailbox refuses, is a dead letter of that
//   actor's on this node: counted, kept by this node's supervisor, and an
//   ask among them answered no_such_actor at once.
// * Loads for least_loaded routes: for a target in `balanced` (see
//   balance()), a record carried to its node stays counted in the proxy
//   lane's remote_outstanding until that node reports the target has
//   committed it: its gateway reports, for each (sender, target) lane it
//   writes, how many frames it wrote and how many bytes the target has not
//   committed, whenever that changes. A sender's least_loaded route then
//   sees a remote target's queue as it sees a local one's.
// * Failure of the link (a lost node, a protocol error) ends run() with
//   mpi_error; the run is then over on this node.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cluster/mpi_link.hpp"
#include "mailbox.hpp"

namespace procactor::cluster {

// A frame on channel_finished: its sender is gone for good, and every frame
// it sent to this node came before.
inline constexpr std::uint32_t channel_finished = 2;

struct gateway_hooks {
  // On the gateway thread; keep them short.
  std::function<void(std::uint32_t slot)> remote_finished;
  std::function<void(int node, const std::string& text)> control;
};

// How a gateway waits when it found nothing to do (turn()): for `spin`
// after its last work it polls on, yielding the CPU between polls to any
// process that is ready to run there (the actor it just woke, which would
// otherwise wait for the CPU); then it sleeps
// between polls, doubling from first_sleep to max_sleep. A spin of
// std::chrono::microseconds::max() never sleeps: a core of its own (it
// still yields, which costs nothing when no other process waits for that
// core; on 2 cores, without the yield, the round trip was 168 µs against
// 130 µs with it).
//
// The spin is long enough to cover an answer that crosses the network and
// an actor on the other side (a cross-node round trip is 100-400 µs on a
// 2-core machine): a gateway that sleeps when the answer comes adds its
// sleep to every round trip. With nothing to carry, the gateway's cost is
// that of the sleeps (about 1.5% of a core, procactor-mpi-bench idle_cpu).
struct idle_policy {
  std::chrono::microseconds spin{2000};
  std::chrono::microseconds first_sleep{20};
  std::chrono::microseconds max_sleep{1000};
};

struct gateway_counters {
  std::uint64_t frames_out = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t held_in = 0;       // frames that found their lane full (or the table incomplete) and waited here
  std::uint64_t dead_letters = 0;  // frames dropped: dead letters of a local actor gone for good, or undeliverable
};

class gateway {
 public:
  // node_of_slot[s]: the rank that runs slot s (slot 0, the supervisor, is
  // on every node: this rank). `names` are the slot table's, for the digest.
  gateway(mpi_link& link, std::vector<int> node_of_slot, const std::vector<std::string>& names, gateway_hooks hooks,
          idle_policy idle = {});
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Before run(): the slots that are targets of a least_loaded route,
  // whose loads the nodes report to each other (by slot, every node the
  // same).
  void balance(std::vector<bool> balanced);
  // Before run(): each rank's node name, for what the gateway says.
  void name_nodes(std::vector<std::string> names);

  // From any thread.
  void local_finished(std::uint32_t slot);
  void broadcast(const std::string& text);        // a control message to every other node
  void tell(int node, const std::string& text);    // a control message to one other node
  // The run is over on this node: once what is queued has gone, close the
  // link (every node does) and return from run().
  void finish();
  // The job is being ended (a node failed): return from run() at once,
  // leaving the link unclosed (no goodbye any peer may never answer, and
  // no MPI_Finalize).
  void abandon();

  // On the thread that made the MPI environment: turns until finish(),
  // then closes the link.
  void run();
  // One turn, never blocking: true when it did something.
  bool poll();
  // poll(), then the idle policy's wait when it found nothing.
  bool turn();

  [[nodiscard]] const gateway_counters& counters() const noexcept { return counters_; }

 private:
  struct outbound {
    std::uint32_t slot = 0;
    bool inbox = false;
    std::unique_ptr<detail::receiver> from;
    std::optional<detail::delivery> held;  // refused for credit: sent first
  };
  struct inbound {
    int peer;
    frame_header header;
    std::vector<std::byte> payload;
  };

  [[nodiscard]] detail::mailbox* box_of(std::uint32_t slot, bool inbox) const;
  bool ship(outbound& out);
  void arrived(int peer, const frame_header& header, std::span<const std::byte> payload);
  // Writes a frame into its local mailbox: false when its lane is full, or
  // this node's slot table is not complete yet.
  bool deliver(int peer, const frame_header& header, std::span<const std::byte> payload);
  void lost(int peer, const frame_header& header, std::span<const std::byte> payload, errc code,
            const std::string& why);
  [[nodiscard]] std::string node_name(int rank) const;
  [[nodiscard]] std::string slot_name(std::uint32_t slot) const;
  bool retry_held();
  bool announce_finished();
  bool report_finished();
  [[nodiscard]] bool holds_from(std::uint32_t sender) const;
  detail::sender& as_sender(std::uint32_t slot);
  bool take_requests();
  void send_to_every_node(const std::string& text);
  // Loads (see the contract): the sending side's account of a record it
  // carried, the receiving side's of a frame it wrote, and its reports.
  void carried(const detail::delivery& d, std::uint32_t target);
  void wrote(std::uint32_t sender, std::uint32_t target);
  bool report_loads();
  void apply_loads(const std::string& report);

  idle_policy idle_;
  std::chrono::steady_clock::time_point last_work_{};
  std::chrono::microseconds sleep_{0};
  mpi_link& link_;
  std::vector<int> node_of_slot_;
  std::uint64_t digest_;
  std::vector<std::string> names_;               // the slot table's
  std::vector<std::string> node_names_;          // by rank, when name_nodes() gave them
  std::unordered_set<std::uint32_t> said_lost_;  // the local actors whose lost messages were said
  std::unordered_set<std::uint32_t> said_unkept_;  // and those a dead letter of which was not kept
  gateway_hooks hooks_;
  gateway_counters counters_;
  std::vector<outbound> outbound_;
  std::vector<std::unique_ptr<detail::sender>> senders_;  // by original sender slot
  std::deque<inbound> held_in_;                           // in arrival order
  std::vector<std::uint32_t> finishing_;                  // local, not announced yet
  std::vector<std::uint32_t> finished_in_;                // remote, not reported yet

  // Loads, keyed by sender << 32 | target.
  struct carried_load {
    detail::lane* lane = nullptr;   // the proxy lane whose remote_outstanding this is
    std::deque<std::uint64_t> sizes;  // of the records carried and not yet reported written there
    std::uint64_t unreported = 0;     // their sum
    std::uint64_t written = 0;        // frames the target's node reported written
    std::uint64_t queued_there = 0;   // bytes it reported not committed
  };
  struct written_load {
    std::uint64_t written = 0;
    std::uint64_t reported_written = 0;
    std::uint64_t reported_queued = 0;
  };
  std::vector<bool> balanced_;
  std::unordered_map<std::uint64_t, carried_load> carried_;
  std::unordered_map<std::uint64_t, written_load> written_;
  std::unordered_set<std::uint64_t> active_loads_;  // of written_: still to report, or to watch

  std::mutex requests_mutex_;
  std::vector<std::uint32_t> requested_finished_;
  std::vector<std::pair<int, std::string>> requested_messages_;  // node, or -1: every other node
  bool requested_finish_ = false;
  bool requested_abandon_ = false;
  bool abandoning_ = false;
  bool finishing_run_ = false;
};

}  // namespace procactor::cluster
