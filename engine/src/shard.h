// Shard: one lock stripe of the engine — a bounded trace table plus the
// per-service counters of the spans that hashed to it.
//
// Externally synchronized: the Engine holds `mu` around every call; methods
// are annotated accordingly. All memory comes from pools that are reused, so
// steady-state ingest does not allocate.
//
// Storage per tracked trace (see docs/engine.md "Memory"):
//   - a fixed-size TraceEntry (pooled, stable address for intrusive lists),
//   - its span cells: 16 bytes per span (span id, service, destination, kind,
//     flags) in chunks of kCellsPerChunk,
//   - pending cells: 16 bytes per span whose parent has not arrived yet
//     (parent id + the child's service); emptied as parents arrive,
//   - with edge attribution, one 64-byte chunk per outbound span that has no
//     child yet (its times and match keys), until a child arrives or the
//     trace is finalized,
//   - a 4-byte slot in an open-addressing hash set keyed by trace id.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "boost/intrusive/list.hpp"
#include "edge_matcher.h"
#include "example_store.h"
#include "mutex.h"
#include "propwatch/ids.h"
#include "propwatch/snapshot.h"
#include "propwatch/span_record.h"

namespace propwatch::detail {

// What the shard needs to know about one incoming span beyond the record.
struct SpanMeta {
  uint16_t service = 0;
  uint16_t destination = 0;  // meaningful for CLIENT/PRODUCER only
  bool entry_point = false;
};

// Monotonic engine-level counters a shard contributes to EngineStats.
struct ShardStats {
  uint64_t distinct_trace_ids = 0;
  uint64_t traces_finalized = 0;
  uint64_t traces_evicted_capacity = 0;
  uint64_t finalized_traces_displaced = 0;
  uint64_t spans_untracked_trace_cap = 0;
  uint64_t traces_unjudged_truncated = 0;
  uint64_t traces_unjudged_evicted = 0;
  uint64_t traces_unjudged_started_before_start = 0;
  uint64_t traces_unjudged_rebalance = 0;
};

class Shard {
 public:
  struct Limits {
    uint32_t max_traces = 0;  // this shard's share of EngineOptions::max_traces
    uint32_t max_spans_per_trace = 0;
    int64_t idle_timeout_ns = 0;
    int64_t retention_ns = 0;
    // Spans that started (span timestamp, Unix ns) before this mark their
    // trace "started before start"; 0 disables the rule.
    uint64_t judge_spans_started_from_unix_ns = 0;
  };

  // `examples` (engine-wide, thread-safe) receives this stripe's finding
  // examples, `edges` (engine-wide, thread-safe; nullptr when attribution is
  // off) its orphan SERVER/CONSUMER roots and unpaired outbound spans; both
  // must outlive the shard.
  Shard(const Limits& limits, ExampleStore* examples, EdgeMatcher* edges);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  Mutex mu;

  // Counts and tracks one valid span (non-zero trace and span id).
  void IngestSpan(const SpanRecord& span, const SpanMeta& meta, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Marks every live trace as unjudged (rebalance) and every trace created
  // before `until_ns` (receive clock) too. O(live traces).
  void BeginRebalance(int64_t until_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Per-service counters that are not tied to a trace.
  ServiceCounters& CountersFor(uint16_t service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Finalizes traces idle for idle_timeout and drops finalized traces older
  // than retention. O(traces affected).
  void Advance(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Adds this shard's counters into the accumulators (indexed by service id;
  // grown as needed) and its unpaired-by-destination counts into `unpaired`
  // (key: service << 16 | destination).
  void MergeInto(std::vector<ServiceCounters>* services,
                 absl::flat_hash_map<uint32_t, uint64_t>* unpaired, ShardStats* stats,
                 EngineStats* gauges) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  static constexpr uint32_t kNil = 0xffffffffu;
  static constexpr int kCellsPerChunk = 4;

  // One span in a trace (or one pending parent reference). 16 bytes.
  struct Cell {
    uint64_t id = 0;  // span id (span cell) or missing parent id (pending cell)
    uint16_t service = 0;
    uint16_t destination = 0;
    uint8_t kind = 0;
    uint8_t flags = 0;
    uint16_t unused = 0;
  };
  static_assert(sizeof(Cell) == 16);
  static constexpr uint8_t kHasChild = 1;   // some span names this one as parent
  static constexpr uint8_t kEvaluated = 2;  // already judged at a finalization
  static constexpr uint8_t kHasNote = 4;    // an OutboundNote is kept for it

  struct Chunk {
    Cell cells[kCellsPerChunk];
  };

  enum class State : uint8_t { kFree, kLive, kFinalized };
  static constexpr uint8_t kTruncated = 1;   // spans beyond max_spans_per_trace
  static constexpr uint8_t kIncomplete = 2;  // part of the trace was evicted earlier
  static constexpr uint8_t kWasFinalized = 4;  // every span from now on is late
  static constexpr uint8_t kStartedBeforeStart = 8;  // a span began before the engine
  static constexpr uint8_t kRebalance = 16;  // live in a rebalance window
  static constexpr uint8_t kUnjudged = kTruncated | kIncomplete | kStartedBeforeStart | kRebalance;

  using ListHook = boost::intrusive::list_member_hook<>;
  struct TraceEntry {
    ListHook hook;  // in live_ (by last activity) or finalized_ (by finalize time)
    TraceId trace_id;
    int64_t last_ns = 0;  // last span (live) or finalization time (finalized)
    uint32_t span_head = kNil;
    uint32_t pending_head = kNil;
    uint32_t note_head = kNil;  // chain of OutboundNote chunks
    uint32_t index = 0;  // own position in the entry pool
    uint16_t span_count = 0;
    uint16_t pending_count = 0;
    State state = State::kFree;
    uint8_t flags = 0;
  };
  using TraceList = boost::intrusive::list<
      TraceEntry, boost::intrusive::member_hook<TraceEntry, ListHook, &TraceEntry::hook>,
      boost::intrusive::constant_time_size<true>>;

  // The hash set stores entry indices; these functors look the key up in the
  // entry pool so a set slot costs 4 bytes instead of a copy of the trace id.
  struct EntryHash {
    using is_transparent = void;
    const Shard* shard;
    size_t operator()(uint32_t index) const;
    size_t operator()(const TraceId& id) const;
  };
  struct EntryEq {
    using is_transparent = void;
    const Shard* shard;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, const TraceId& b) const;
    bool operator()(const TraceId& a, uint32_t b) const { return (*this)(b, a); }
  };

  TraceEntry& Entry(uint32_t index) const;
  uint32_t AllocateEntry();
  void ReleaseEntry(TraceEntry& entry);  // unlinks from table and lists
  uint32_t CreateTrace(const TraceId& id, int64_t now_ns);
  void MakeRoom();

  uint32_t AllocateChunk();
  void FreeChain(uint32_t head);
  [[gnu::always_inline]] inline Cell* CellAt(uint32_t head, uint32_t position);
  [[gnu::always_inline]] inline Cell* AppendCell(uint32_t* head, uint16_t* count);

  void Finalize(TraceEntry& entry, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Unlinks and frees the note of the cell at `position`, if any.
  void RemoveNote(TraceEntry& entry, uint32_t position);
  void RememberEvicted(const TraceId& id);
  bool WasEvicted(const TraceId& id) const;

  const Limits limits_;

  // Entry pool: blocks of fixed-size entries with stable addresses.
  static constexpr uint32_t kEntriesPerBlock = 1024;
  std::vector<std::unique_ptr<TraceEntry[]>> entry_blocks_;
  std::vector<uint32_t> free_entries_;
  uint32_t entries_in_use_ = 0;

  // Cell chunk pool in fixed blocks; Next(i) links chunk i in a trace's
  // chain or in the free list.
  static constexpr uint32_t kChunksPerBlock = 4096;
  Chunk& ChunkAt(uint32_t i) { return chunk_blocks_[i / kChunksPerBlock][i % kChunksPerBlock]; }
  uint32_t& Next(uint32_t i) { return next_blocks_[i / kChunksPerBlock][i % kChunksPerBlock]; }
  std::vector<std::unique_ptr<Chunk[]>> chunk_blocks_;
  std::vector<std::unique_ptr<uint32_t[]>> next_blocks_;
  uint32_t chunk_count_ = 0;
  uint32_t free_chunk_ = kNil;

  absl::flat_hash_set<uint32_t, EntryHash, EntryEq> table_;
  TraceList live_;       // least recently active first
  TraceList finalized_;  // oldest finalization first

  // Fingerprints of traces evicted for capacity, so spans that arrive for
  // them later are not judged against a trace we no longer fully know.
  absl::flat_hash_set<uint64_t> evicted_;
  std::vector<uint64_t> evicted_ring_;
  size_t evicted_next_ = 0;

  std::vector<ServiceCounters> counters_;
  absl::flat_hash_map<uint32_t, uint64_t> unpaired_by_destination_;
  ShardStats stats_;
  int64_t rebalance_until_ns_ = 0;  // traces created before this are unjudged
  ExampleStore* const examples_;  // not owned; its own locks, taken after mu
  EdgeMatcher* const edges_;      // not owned, may be null; its own lock, taken after mu

  // What edge attribution needs of an outbound span that has no child yet,
  // beyond its cell: kept in a chunk of the trace's note chain until a child
  // arrives or the trace is finalized (then handed to edges_ if unpaired).
  struct OutboundNote {
    uint64_t start_ns = 0, end_ns = 0;
    uint64_t peer_key = 0, address_key = 0, destination_key = 0;
    uint16_t port = 0;
    uint16_t position = 0;  // the cell's position in the trace
  };
  static_assert(sizeof(OutboundNote) <= sizeof(Chunk));
  OutboundNote ReadNote(uint32_t chunk);
};

}  // namespace propwatch::detail
