// EdgeMatcher: pairs orphan SERVER/CONSUMER roots with the unpaired
// CLIENT/PRODUCER spans that sent them (docs/semantics.md "Broken edge") and
// counts the result per (caller, callee, boundary).
//
// Flow: a stripe hands over each orphan when it arrives (AddOrphan) and each
// unpaired outbound span when its trace is finalized (AddOutbound). The
// engine calls Decide(now) after advancing every stripe: orphans that arrived
// at least `decision_delay` ago are decided by a global greedy matching — the
// (orphan, candidate) pair nearest in start time first, ties broken by the
// ids — computed together with every pending orphan that competes with them
// and committed for the due ones. So when the spans of a scenario arrive
// within (decision_delay - trace_idle_timeout) of each other, the result
// depends only on the spans, never on arrival order or on which trace
// finalized first.
//
// Bounds: at most `max_candidates` orphans pending and as many candidates
// (oldest pushed out first, counted), at most `max_series` edge series; each
// candidate is dropped 2 x decision_delay after it arrived (messaging: plus
// max_lag). Memory: ~200 bytes per pending orphan or candidate, plus
// max_series x (48 + examples x 56) bytes.
//
// Thread-safe: its own mutex, taken after a stripe's (Add*) or alone
// (Decide, readers). AddOrphan/AddOutbound are O(log candidates); Decide is
// O((competing pending orphans + skipped candidates) x log) when some orphan
// is due, else O(expired candidates).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
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
  };
  struct Candidate {
    EdgeSpan span;
    EdgeBoundary boundary = EdgeBoundary::kHttp;
    int64_t added_ns = 0;
    uint32_t generation = 0;
    bool live = false;
  };
  using StartIndex = absl::btree_set<std::pair<uint64_t, uint32_t>>;  // (start, candidate)
  struct KeyList {
    StartIndex by_start;
    uint64_t max_duration = 0;  // longest candidate span since the list was last empty
  };
  struct QueueEntry {
    uint32_t candidate;
    uint32_t generation;
  };
  struct Series {
    uint64_t count = 0;
    std::unique_ptr<Example[]> ring;  // examples_per_edge entries
    uint32_t next = 0, size = 0;
  };
  // Index lists a candidate is filed under (http: peer and address; messaging:
  // destination). Keys are tagged by boundary so the two never meet.
  static uint64_t ListKey(uint64_t key, EdgeBoundary boundary) {
    return key ^ (boundary == EdgeBoundary::kMessaging ? 0x9e3779b97f4a7c15ull : 0);
  }

  void EvictOldestCandidate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveCandidate(uint32_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unfile(uint64_t key, EdgeBoundary boundary, uint32_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Matches all of `batch` and commits the first `commit` orphans.
  void DecideBatch(std::vector<PendingOrphan>& batch, size_t commit, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Count(const PendingOrphan& orphan, const Candidate* caller, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t TimeToLive(EdgeBoundary boundary) const;

  const Options options_;
  mutable Mutex mu_;
  std::deque<PendingOrphan> orphans_ ABSL_GUARDED_BY(mu_);  // by arrival, so by due time
  std::vector<Candidate> candidates_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_candidates_ ABSL_GUARDED_BY(mu_);
  uint32_t live_candidates_ ABSL_GUARDED_BY(mu_) = 0;
  // Per boundary, by arrival (so by expiry); stale entries are skipped.
  std::deque<QueueEntry> queues_[kNumEdgeBoundaries] ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, KeyList> lists_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Series> series_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace propwatch::detail
