// EdgeMatcher: pairs orphan SERVER/CONSUMER roots with the unpaired
// CLIENT/PRODUCER spans that sent them (docs/semantics.md "Broken edge") and
// counts the result per (caller, callee, boundary).
//
// Flow: a stripe hands over each orphan when it arrives (AddOrphan) and each
// unpaired outbound span when its trace is finalized (AddOutbound). The
// engine calls Decide(now) after advancing every stripe: orphans that arrived
// at least `decision_delay` ago are decided by a global greedy matching — the
// (orphan, candidate) pair nearest in start time first, ties broken by the
// ids — as if every orphan still pending (arrived, not yet due) took part;
// the due ones are committed. So when the spans of a scenario arrive within
// (decision_delay - trace_idle_timeout) of each other, the result depends
// only on the spans, never on arrival order or on which trace finalized
// first. To keep that cheap, the due orphans are first matched alone; the
// result stands unless a pending orphan ranks better for a candidate they
// took, and only then is the matching recomputed with every pending orphan
// that competes (shares a match key, transitively).
//
// Candidates live in a ring of `max_candidates` in arrival order (the oldest
// is overwritten first, counted if it had not expired). A candidate is
// indexed by start time under a match key only once some orphan has carried
// that key ("wanted" keys; when a key becomes wanted the ring is scanned
// once). An http candidate whose keys no orphan has carried yet is not kept
// at all: its trace was finalized trace_idle_timeout after the client span,
// so an orphan it sent that arrives later is outside the arrival window
// above. The healthy case — unpaired calls to databases and third parties,
// no orphans — thus costs a lock-free bit test per unpaired CLIENT span
// (PRODUCER spans are kept: a consumer may run minutes later).
// Candidates expire 2 x decision_delay after arrival (PRODUCER: plus
// max_lag). Pending orphans: at most `max_candidates` (oldest pushed out,
// counted); edge series: at most `max_series`. Memory: ~120 bytes per ring
// slot once used, ~150 per pending orphan, plus max_series x (48 + examples
// x 56) bytes.
//
// Thread-safe: its own mutex, taken after a stripe's (Add*) or alone
// (Decide, readers). AddOutbound is O(1) (O(log) when indexed); AddOrphan
// O(log), or O(ring) when it makes a key wanted; Decide O(due orphans x log)
// in the common case.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "mutex.h"
#include "propwatch/ids.h"
#include "propwatch/snapshot.h"

namespace propwatch::detail {

// Match keys are 64-bit hashes of (attribute role, value); 0 means absent.
uint64_t PeerKey(std::string_view peer_service_or_service_name);
uint64_t AddressKey(std::string_view server_address);
uint64_t DestinationKey(std::string_view messaging_destination);

// One side of a possible edge: an orphan root or an unpaired outbound span.
struct EdgeSpan {
  TraceId trace_id;
  uint64_t span_id = 0;
  uint64_t start_ns = 0;  // span timestamps (Unix ns)
  uint64_t end_ns = 0;
  // Orphan (http): PeerKey(own service name) and AddressKey(server.address);
  // candidate (http): PeerKey(peer.service) and AddressKey(server.address);
  // messaging, both sides: DestinationKey(messaging.destination.name).
  uint64_t peer_key = 0;
  uint64_t address_key = 0;
  uint64_t destination_key = 0;
  uint16_t port = 0;     // server.port; 0 = absent
  uint16_t service = 0;  // the span's own service id
};

class EdgeMatcher {
 public:
  static constexpr uint16_t kUnknownCallerId = 0xffff;

  struct Options {
    int64_t skew_ns = 0;
    int64_t max_lag_ns = 0;
    int64_t decision_delay_ns = 0;
    uint32_t max_candidates = 0;
    uint32_t max_series = 0;
    uint32_t examples_per_edge = 0;
  };

  struct Example {
    TraceId trace_id;  // the orphan
    uint64_t span_id = 0;
    TraceId caller_trace_id;  // zero for the unknown caller
    uint64_t caller_span_id = 0;
    int64_t seen_ns = 0;  // when decided
  };

  struct Stats {
    uint64_t orphans_pending = 0, outbound_candidates = 0, series = 0;
    uint64_t orphans_evicted = 0, outbound_evicted = 0, series_overflow = 0;
    uint64_t bytes = 0;  // approximate memory held
  };

  explicit EdgeMatcher(const Options& options);
  EdgeMatcher(const EdgeMatcher&) = delete;
  EdgeMatcher& operator=(const EdgeMatcher&) = delete;

  // An orphan SERVER (http) or CONSUMER (messaging) root.
  void AddOrphan(const EdgeSpan& orphan, EdgeBoundary boundary, int64_t now_ns)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A CLIENT (http) or PRODUCER (messaging) span with no child when its trace
  // was finalized.
  void AddOutbound(const EdgeSpan& outbound, EdgeBoundary boundary, int64_t now_ns)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Decides every orphan due by now_ns, then drops expired candidates.
  void Decide(int64_t now_ns) ABSL_LOCKS_EXCLUDED(mu_);

  // Edge key: caller << 24 | callee << 8 | boundary.
  static uint64_t EdgeKey(uint16_t caller, uint16_t callee, EdgeBoundary boundary) {
    return static_cast<uint64_t>(caller) << 24 | static_cast<uint64_t>(callee) << 8 |
           static_cast<uint64_t>(boundary);
  }
  // Adds the cumulative count of every edge into `counts` (by EdgeKey).
  void AddCounts(absl::flat_hash_map<uint64_t, uint64_t>* counts) const ABSL_LOCKS_EXCLUDED(mu_);
  Stats GetStats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls fn(edge key, example) for every example kept, oldest first per edge.
  void ForEachExample(const std::function<void(uint64_t, const Example&)>& fn) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct PendingOrphan {
    EdgeSpan span;
    EdgeBoundary boundary;
    int64_t due_ns;
    uint64_t seq;  // arrival number; orphans_[seq - first_orphan_seq_]
  };
  struct Candidate {
    EdgeSpan span;
    EdgeBoundary boundary = EdgeBoundary::kHttp;
    int64_t added_ns = 0;
    bool live = false;
    uint8_t filed = 0;     // bit k: filed under key k of Keys()
    uint32_t used_in = 0;  // the Match() epoch that took it
  };
  using StartIndex = absl::btree_set<std::pair<uint64_t, uint64_t>>;  // (start, id)
  struct KeyList {
    StartIndex by_start;      // candidates: (start, ring slot)
    uint64_t max_duration = 0;  // longest candidate filed since the list was last empty
  };
  struct Series {
    uint64_t count = 0;
    std::unique_ptr<Example[]> ring;  // examples_per_edge entries
    uint32_t next = 0, size = 0;
  };
  struct Keys {
    uint64_t key[2] = {0, 0};  // list keys (ListKey), 0 = none
  };
  // Index lists are tagged by boundary so the two never meet.
  static uint64_t ListKey(uint64_t key, EdgeBoundary boundary) {
    if (key == 0) return 0;
    return (key ^ (boundary == EdgeBoundary::kMessaging ? 0x9e3779b97f4a7c15ull : 0)) | 1;
  }
  // The lists a span is matched under: http: peer and address; messaging:
  // destination.
  static Keys KeysOf(const EdgeSpan& span, EdgeBoundary boundary);

  int64_t TimeToLive(EdgeBoundary boundary) const;
  bool Expired(const Candidate& c, int64_t now_ns) const {
    return now_ns - c.added_ns >= TimeToLive(c.boundary);
  }
  void File(uint32_t slot, int k) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveCandidate(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Want(uint64_t list_key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexOrphan(const PendingOrphan& orphan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Greedy matching of `batch`: match[i] = ring slot or -1.
  std::vector<int64_t> Match(const std::vector<const PendingOrphan*>& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether (r, slot) is a valid pair (the port is checked when matched by
  // address); the candidate must not have expired by r's due time.
  bool Valid(const PendingOrphan& r, uint32_t slot, bool check_port) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when a pending orphan not in `due` would rank before (r, slot).
  bool Contested(const PendingOrphan& r, uint32_t slot, uint64_t first_not_due_seq) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Count(const PendingOrphan& orphan, const Candidate* caller, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable Mutex mu_;
  std::deque<PendingOrphan> orphans_ ABSL_GUARDED_BY(mu_);  // by arrival, so by due time
  uint64_t next_orphan_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Pending orphans by list key: (start, seq).
  absl::flat_hash_map<uint64_t, StartIndex> orphan_lists_ ABSL_GUARDED_BY(mu_);
  std::vector<Candidate> ring_ ABSL_GUARDED_BY(mu_);  // grows to max_candidates
  uint64_t ring_next_ ABSL_GUARDED_BY(mu_) = 0;  // candidates ever added; slot = n % capacity
  uint64_t ring_tail_ ABSL_GUARDED_BY(mu_) = 0;  // first that may still be live
  uint32_t live_candidates_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, KeyList> lists_ ABSL_GUARDED_BY(mu_);
  // Keys some orphan carried. Past kMaxWanted every candidate is indexed.
  static constexpr size_t kMaxWanted = 1 << 16;
  absl::flat_hash_set<uint64_t> wanted_ ABSL_GUARDED_BY(mu_);
  bool want_all_ ABSL_GUARDED_BY(mu_) = false;
  // A lock-free superset of wanted_ (one bit per key hash; all set once
  // want_all_), so an http candidate nobody wants is dropped without the lock.
  static constexpr size_t kWantBits = 1 << 16;
  std::array<std::atomic<uint64_t>, kWantBits / 64> want_bits_{};
  bool MaybeWanted(uint64_t list_key) const {
    const uint64_t bit = list_key % kWantBits;
    return (want_bits_[bit / 64].load(std::memory_order_relaxed) >> (bit % 64)) & 1;
  }
  absl::flat_hash_map<uint64_t, Series> series_ ABSL_GUARDED_BY(mu_);
  uint32_t match_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propwatch::detail
