#include "cluster/gateway.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "actor_host.hpp"
#include "arena.hpp"
#include "envelope.hpp"
#include "process.hpp"

namespace procactor::cluster {

namespace {

constexpr std::string_view digest_prefix = "procactor.table ";
// Lines "SENDER TARGET WRITTEN QUEUED" (see the contract on loads).
constexpr std::string_view loads_prefix = "procactor.loads\n";

constexpr std::uint64_t load_key(std::uint32_t sender, std::uint32_t target) {
  return std::uint64_t{sender} << 32U | target;
}

std::uint64_t digest_of(const std::vector<std::string>& names) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& name : names) {
    for (char c : name + '\n') {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
  }
  return hash;
}

const detail::arena& shm() { return detail::process::current()->shm(); }

// One sender's frames to one mailbox (or inbox): the order that must hold.
bool same_stream(const frame_header& a, const frame_header& b) {
  return a.sender == b.sender && a.target == b.target && a.channel == b.channel;
}

// How many records one outbound mailbox may ship per turn, so that one busy
// mailbox does not hold the others (and the link's progress) back.
constexpr int ship_batch = 256;

}  // namespace

gateway::gateway(mpi_link& link, std::vector<int> node_of_slot, const std::vector<std::string>& names,
                 gateway_hooks hooks, idle_policy idle)
    : idle_(idle),
      link_(link),
      node_of_slot_(std::move(node_of_slot)),
      digest_(digest_of(names)),
      names_(names),
      hooks_(std::move(hooks)) {
  for (std::uint32_t slot = 1; slot < node_of_slot_.size(); ++slot) {
    if (node_of_slot_[slot] == link_.rank()) continue;
    for (bool inbox : {false, true}) {
      outbound out;
      out.slot = slot;
      out.inbox = inbox;
      outbound_.push_back(std::move(out));
    }
  }
  senders_.resize(node_of_slot_.size());
  link_.on_data([this](int peer, const frame_header& header, std::span<const std::byte> payload) {
    arrived(peer, header, payload);
  });
  link_.on_control([this](int peer, std::span<const std::byte> bytes) {
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.starts_with(loads_prefix)) {
      apply_loads(text.substr(loads_prefix.size()));
      return;
    }
    if (text.starts_with(digest_prefix)) {
      if (text.substr(digest_prefix.size()) != std::to_string(digest_)) {
        throw mpi_error(peer, 0,
                        "node " + std::to_string(peer) + " has another actor table than node " +
                            std::to_string(link_.rank()) + ": every node must run the same graph file");
      }
      return;
    }
    if (hooks_.control) hooks_.control(peer, text);
  });
  send_to_every_node(std::string(digest_prefix) + std::to_string(digest_));
}

void gateway::send_to_every_node(const std::string& text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  for (int peer = 0; peer < link_.size(); ++peer) {
    if (peer != link_.rank()) link_.send_control(peer, bytes);
  }
}

gateway::~gateway() = default;

void gateway::local_finished(std::uint32_t slot) {
  std::lock_guard guard(requests_mutex_);
  requested_finished_.push_back(slot);
}

void gateway::broadcast(const std::string& text) { tell(-1, text); }

void gateway::tell(int node, const std::string& text) {
  std::lock_guard guard(requests_mutex_);
  requested_messages_.emplace_back(node, text);
}

void gateway::finish() {
  std::lock_guard guard(requests_mutex_);
  requested_finish_ = true;
}

void gateway::abandon() {
  std::lock_guard guard(requests_mutex_);
  requested_abandon_ = true;
}

bool gateway::take_requests() {
  std::vector<std::uint32_t> finished;
  std::vector<std::pair<int, std::string>> messages;
  {
    std::lock_guard guard(requests_mutex_);
    finished.swap(requested_finished_);
    messages.swap(requested_messages_);
    finishing_run_ = finishing_run_ || requested_finish_;
    abandoning_ = abandoning_ || requested_abandon_;
  }
  for (const auto& [node, text] : messages) {
    if (node < 0) {
      send_to_every_node(text);
    } else if (node != link_.rank() && node < link_.size()) {
      link_.send_control(node, std::as_bytes(std::span(text.data(), text.size())));
    }
  }
  finishing_.insert(finishing_.end(), finished.begin(), finished.end());
  return !finished.empty() || !messages.empty();
}

detail::sender& gateway::as_sender(std::uint32_t slot) {
  auto& s = senders_[slot];
  if (!s) s = std::make_unique<detail::sender>(shm(), slot);
  return *s;
}

// The mailbox (or inbox) of a remote slot, once the node has declared it.
detail::mailbox* gateway::box_of(std::uint32_t slot, bool inbox) const {
  const detail::arena& a = shm();
  if (slot >= a.header()->slot_count.load(std::memory_order_acquire)) return nullptr;
  const detail::slot_entry& e = a.slot(slot);
  return a.mailbox_at(inbox ? e.inbox : e.mailbox);
}

bool gateway::ship(outbound& out) {
  if (!out.from) {
    detail::mailbox* box = box_of(out.slot, out.inbox);
    if (box == nullptr) return false;
    out.from = std::make_unique<detail::receiver>(shm(), box, [](std::uint32_t sender, const std::string& what) {
      detail::log_line("gateway", "a record from slot " + std::to_string(sender) + " was skipped: " + what);
    });
  }
  bool did = false;
  for (int n = 0; n < ship_batch; ++n) {
    if (!out.held) out.held = out.from->try_next();
    if (!out.held) break;
    const detail::delivery& d = *out.held;
    frame_header header;
    header.target = out.slot;
    header.sender = d.head.sender;
    header.flags = d.head.flags & ~detail::flag_blob;  // the receiving side decides again
    header.type = d.head.type;
    header.correlation = d.head.correlation;
    header.channel = out.inbox ? channel_reply_inbox : channel_mailbox;
    if (!link_.try_send(node_of_slot_[out.slot], header, d.payload)) break;
    if (!out.inbox && out.slot < balanced_.size() && balanced_[out.slot]) carried(d, out.slot);
    out.from->commit(d);
    out.held.reset();
    ++counters_.frames_out;
    did = true;
  }
  return did;
}

void gateway::name_nodes(std::vector<std::string> names) { node_names_ = std::move(names); }

std::string gateway::node_name(int rank) const {
  return rank >= 0 && static_cast<std::size_t>(rank) < node_names_.size() ? node_names_[rank]
                                                                          : "number " + std::to_string(rank);
}

std::string gateway::slot_name(std::uint32_t slot) const {
  if (slot == 0) return "supervisor";
  return slot < names_.size() ? names_[slot] : "slot " + std::to_string(slot);
}

// A message for a local actor that will never be handled: a dead letter of
// that actor's, as one that ended with it queued makes (counted, kept by
// this node's supervisor, an ask answered at once). Said once per actor;
// its dead letters count the rest.
void gateway::lost(int peer, const frame_header& header, std::span<const std::byte> payload, errc code,
                   const std::string& why) {
  ++counters_.dead_letters;
  const std::string target = slot_name(header.target);
  const std::string from = slot_name(header.sender) + " on node " + node_name(peer);
  if ((header.flags & detail::flag_system) != 0) {
    detail::log_line("gateway", "a system message from " + from + " for " + target + " was dropped: " + why);
    return;
  }
  if (said_lost_.insert(header.target).second) {
    detail::log_line(target, "messages from other nodes for it become dead letters: " + why + " (the first from " +
                                 from + "; its dead letters count them)");
  }
  detail::slot_entry& entry = shm().slot(header.target);
  const errc reported = detail::report_dead_letter(*detail::process::current(), entry, target, header.sender,
                                                   {header.type, header.correlation, header.flags}, payload, code,
                                                   why + " (a message from " + from + ")", 0, detail::send_deadline{});
  // Counted in any case; kept for dead_letters() unless this node's
  // supervisor is that far behind (never waited for: this thread carries
  // MPI's progress, and a remote asker's replies).
  if (reported != errc::ok && said_unkept_.insert(header.target).second) {
    detail::log_line(target,
                     "a dead letter from another node is counted but not kept: " + std::string(to_string(reported)));
  }
}

bool gateway::deliver(int peer, const frame_header& header, std::span<const std::byte> payload) {
  const detail::arena& a = shm();
  const auto dropped = [&](const std::string& why) {
    ++counters_.dead_letters;
    if (counters_.dead_letters <= 10) {
      detail::log_line("gateway", "a message from " + slot_name(header.sender) + " on node " + node_name(peer) +
                                      " for slot " + std::to_string(header.target) + " was dropped: " + why);
    }
    return true;
  };
  if (header.target == 0 || header.target >= node_of_slot_.size() || header.sender >= node_of_slot_.size() ||
      node_of_slot_[header.target] != link_.rank()) {
    return dropped("that slot does not run on this node");
  }
  // The nodes declare their slot tables at their own pace: a frame can
  // come before this node has declared its target (whose entry has no
  // mailbox yet), or its sender, to which the target may answer. It waits
  // until the whole table is here; once the run is over on this node, a
  // table it never completed (a stop during start-up) will not be.
  if (a.header()->slot_count.load(std::memory_order_acquire) < node_of_slot_.size()) {
    return finishing_run_ ? dropped("this node stopped before it declared every actor") : false;
  }
  const detail::slot_entry& e = a.slot(header.target);
  const bool inbox = header.channel == channel_reply_inbox;
  if (!inbox && detail::is_terminal(static_cast<detail::slot_state>(e.state.load(std::memory_order_acquire)))) {
    lost(peer, header, payload, errc::no_such_actor, slot_name(header.target) + " has ended for good");
    return true;
  }
  const detail::message_header head{header.type, header.correlation, header.flags};
  detail::send_deadline never;  // a full lane is tried again later
  // Slot 0, the supervisor, is on every node: its lanes here are this
  // process's own sender's, which must stay their one producer.
  const errc result =
      header.sender == 0
          ? detail::process::current()->write(header.target, inbox, head, payload, std::nullopt)
          : as_sender(header.sender).write(header.target, inbox, inbox ? e.inbox : e.mailbox, head, payload, never);
  if (result == errc::full) return false;
  if (result != errc::ok) {
    if (inbox) return dropped("a reply that could not be written: " + std::string(to_string(result)));
    lost(peer, header, payload, result,
         result == errc::closed ? slot_name(header.target) + " is closed"
                                : "it could not be written into " + slot_name(header.target) + "'s mailbox");
    return true;
  }
  if (!inbox && header.sender != 0 && header.target < balanced_.size() && balanced_[header.target]) {
    wrote(header.sender, header.target);
  }
  return true;
}

void gateway::balance(std::vector<bool> balanced) { balanced_ = std::move(balanced); }

// Before the proxy lane commits `d`: its bytes stay counted, now as
// waiting on the target's node, so that the lane's load never dips.
void gateway::carried(const detail::delivery& d, std::uint32_t target) {
  carried_load& load = carried_[load_key(d.head.sender, target)];
  if (load.lane != d.from) {
    // The sender grew its lane: the account moves to the new one.
    if (load.lane != nullptr) load.lane->remote_outstanding.store(0, std::memory_order_release);
    load.lane = d.from;
  }
  const std::uint64_t size = d.next - d.position;
  load.sizes.push_back(size);
  load.unreported += size;
  load.lane->remote_outstanding.store(load.queued_there + load.unreported, std::memory_order_release);
}

void gateway::wrote(std::uint32_t sender, std::uint32_t target) {
  const std::uint64_t key = load_key(sender, target);
  ++written_[key].written;
  active_loads_.insert(key);
}

// What changed in the lanes written here for balanced targets, to each
// sender's node, one message per node and turn. A lane stays watched until
// its target has committed everything and that has been reported.
bool gateway::report_loads() {
  if (active_loads_.empty()) return false;
  std::vector<std::string> reports(static_cast<std::size_t>(link_.size()));
  for (auto it = active_loads_.begin(); it != active_loads_.end();) {
    const auto sender = static_cast<std::uint32_t>(*it >> 32U);
    const auto target = static_cast<std::uint32_t>(*it & 0xffffffffU);
    written_load& load = written_[*it];
    const std::uint64_t queued = as_sender(sender).outstanding(target);
    if (queued != load.reported_queued || load.written != load.reported_written) {
      std::string& report = reports[static_cast<std::size_t>(node_of_slot_[sender])];
      report += std::to_string(sender) + ' ' + std::to_string(target) + ' ' + std::to_string(load.written) + ' ' +
                std::to_string(queued) + '\n';
      load.reported_queued = queued;
      load.reported_written = load.written;
    }
    it = queued == 0 ? active_loads_.erase(it) : std::next(it);
  }
  bool did = false;
  for (int peer = 0; peer < link_.size(); ++peer) {
    std::string& report = reports[static_cast<std::size_t>(peer)];
    if (report.empty() || peer == link_.rank()) continue;
    report.insert(0, loads_prefix);
    link_.send_control(peer, std::as_bytes(std::span(report.data(), report.size())));
    did = true;
  }
  return did;
}

void gateway::apply_loads(const std::string& report) {
  std::size_t at = 0;
  while (at < report.size()) {
    const std::size_t end = std::min(report.find('\n', at), report.size());
    unsigned long long sender = 0, target = 0, written = 0, queued = 0;
    if (std::sscanf(report.substr(at, end - at).c_str(), "%llu %llu %llu %llu", &sender, &target, &written,
                    &queued) != 4) {
      throw mpi_error(-1, 0, "a load report that cannot be read: '" + report.substr(at, end - at) + "'");
    }
    at = end + 1;
    auto it = carried_.find(load_key(static_cast<std::uint32_t>(sender), static_cast<std::uint32_t>(target)));
    if (it == carried_.end() || it->second.lane == nullptr) continue;
    carried_load& load = it->second;
    while (load.written < written && !load.sizes.empty()) {
      load.unreported -= load.sizes.front();
      load.sizes.pop_front();
      ++load.written;
    }
    load.queued_there = queued;
    detail::lane* lane = load.lane;
    lane->remote_outstanding.store(load.queued_there + load.unreported, std::memory_order_release);
    // As a commit does: a sender waiting for one of its least_loaded
    // targets to finish something is told (pairs with await_progress).
    detail::signal_fence();
    detail::wake_progress_waiter(shm(), lane, lane->producer_waiting.load(std::memory_order_relaxed));
  }
}

void gateway::arrived(int peer, const frame_header& header, std::span<const std::byte> payload) {
  ++counters_.frames_in;
  if (header.channel == channel_finished) {
    finished_in_.push_back(header.sender);
    link_.consumed(peer, header.target, frame_cost(header.length));
    return;
  }
  // Behind a held frame of the same sender and target, or its order breaks.
  const bool behind = std::any_of(held_in_.begin(), held_in_.end(), [&](const inbound& h) {
    return same_stream(h.header, header);
  });
  if (!behind && deliver(peer, header, payload)) {
    link_.consumed(peer, header.target, frame_cost(header.length));
    return;
  }
  ++counters_.held_in;
  held_in_.push_back({peer, header, std::vector<std::byte>(payload.begin(), payload.end())});
}

bool gateway::retry_held() {
  bool did = false;
  // A frame whose stream has an earlier one still held waits behind it.
  // (Copies: erasing from the deque invalidates pointers into it.)
  std::vector<frame_header> blocked;
  for (auto it = held_in_.begin(); it != held_in_.end();) {
    const bool behind = std::any_of(blocked.begin(), blocked.end(),
                                    [&](const frame_header& b) { return same_stream(b, it->header); });
    if (behind || !deliver(it->peer, it->header, it->payload)) {
      blocked.push_back(it->header);
      ++it;
      continue;
    }
    link_.consumed(it->peer, it->header.target, frame_cost(it->header.length));
    it = held_in_.erase(it);
    did = true;
  }
  return did;
}

bool gateway::holds_from(std::uint32_t sender) const {
  return std::any_of(held_in_.begin(), held_in_.end(), [&](const inbound& h) { return h.header.sender == sender; });
}

// A local instance gone for good: once nothing it wrote waits in a remote
// slot here, every node hears it, behind that data.
bool gateway::announce_finished() {
  const detail::arena& a = shm();
  bool did = false;
  for (auto it = finishing_.begin(); it != finishing_.end();) {
    const std::uint32_t slot = *it;
    const bool drained = std::all_of(outbound_.begin(), outbound_.end(), [&](const outbound& out) {
      if (out.held && out.held->head.sender == slot) return false;
      const detail::mailbox* box = box_of(out.slot, out.inbox);
      return box == nullptr || detail::queued_bytes_from(a, box, slot) == 0;
    });
    if (!drained) {
      ++it;
      continue;
    }
    bool sent = true;
    frame_header header;
    header.sender = slot;
    header.target = slot;
    header.channel = channel_finished;
    for (int peer = 0; peer < link_.size() && sent; ++peer) {
      if (peer != link_.rank()) sent = link_.try_send(peer, header, {});
    }
    // A window that refused leaves the others told: the retry tells them
    // again, which is harmless (a node reports an instance finished once).
    if (!sent) {
      ++it;
      continue;
    }
    it = finishing_.erase(it);
    did = true;
  }
  return did;
}

bool gateway::report_finished() {
  bool did = false;
  for (auto it = finished_in_.begin(); it != finished_in_.end();) {
    if (holds_from(*it)) {
      ++it;
      continue;
    }
    // Gone for good on its node, so here too: a send to it now fails at
    // once (no_such_actor), as one to a local actor that ended does,
    // rather than cross to be dropped there, and an ask waiting for it ends.
    const detail::arena& a = shm();
    if (*it != 0 && *it < a.header()->slot_count.load(std::memory_order_acquire) && *it < node_of_slot_.size() &&
        node_of_slot_[*it] != link_.rank()) {
      a.slot(*it).state.store(static_cast<std::uint32_t>(detail::slot_state::exited), std::memory_order_release);
    }
    if (hooks_.remote_finished) hooks_.remote_finished(*it);
    it = finished_in_.erase(it);
    did = true;
  }
  return did;
}

bool gateway::poll() {
  bool did = take_requests();
  for (outbound& out : outbound_) did = ship(out) || did;
  did = retry_held() || did;
  did = announce_finished() || did;
  did = report_finished() || did;
  did = report_loads() || did;
  did = link_.progress() || did;
  return did;
}

bool gateway::turn() {
  // MPI's progress has no descriptor to wait on, nor have the mailboxes
  // here: after work, poll on for idle.spin (the answer to what was just
  // carried is usually that close), yielding between polls, then sleep
  // between polls, doubling (idle_policy).
  const bool did = poll();
  const auto now = std::chrono::steady_clock::now();
  if (did) {
    last_work_ = now;
    sleep_ = std::chrono::microseconds(0);
  } else if (idle_.spin != std::chrono::microseconds::max() &&
             now - last_work_ >= std::chrono::duration_cast<std::chrono::steady_clock::duration>(idle_.spin)) {
    sleep_ = sleep_.count() == 0 ? idle_.first_sleep : std::min(sleep_ * 2, idle_.max_sleep);
    std::this_thread::sleep_for(sleep_);
  } else {
    ::sched_yield();  // an actor just woken on this CPU runs now, not after the gateway
  }
  return did;
}

void gateway::run() {
  for (;;) {
    turn();
    if (abandoning_) return;
    if (finishing_run_ && finishing_.empty() && held_in_.empty() && finished_in_.empty() &&
        std::none_of(outbound_.begin(), outbound_.end(), [](const outbound& out) { return out.held.has_value(); })) {
      break;
    }
  }
  link_.close();
}

}  // namespace procactor::cluster
