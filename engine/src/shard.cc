#include "shard.h"

#include <algorithm>
#include <cstring>

#include "absl/hash/hash.h"
#include "propwatch/trace_context.h"

namespace propwatch::detail {
namespace {

bool IsOutbound(SpanKind kind) { return kind == SpanKind::kClient || kind == SpanKind::kProducer; }

// The match keys of a span for edge attribution (edge_matcher.h). Hashing is
// left to the few spans that need it: orphan roots, and outbound spans with
// no child yet.
void SetEdgeKeys(const SpanRecord& span, EdgeSpan* edge) {
  if (span.kind == SpanKind::kServer || span.kind == SpanKind::kClient) {
    // A client names its callee by peer.service; a server is named by its own service.
    edge->peer_key = PeerKey(span.kind == SpanKind::kClient
                                 ? span.peer_service
                                 : (span.service_name.empty() ? kUnknownService : span.service_name));
    edge->address_key = AddressKey(span.server_address);
    if (span.server_port >= 1 && span.server_port <= 65535) {
      edge->port = static_cast<uint16_t>(span.server_port);
    }
  } else {
    edge->destination_key = DestinationKey(span.messaging_destination);
  }
}

uint64_t Fingerprint(const TraceId& id) { return absl::HashOf(id.High64(), id.Low64()); }

}  // namespace

size_t Shard::EntryHash::operator()(uint32_t index) const {
  return (*this)(shard->Entry(index).trace_id);
}
size_t Shard::EntryHash::operator()(const TraceId& id) const {
  return absl::HashOf(id.High64(), id.Low64());
}
bool Shard::EntryEq::operator()(uint32_t a, const TraceId& b) const {
  return shard->Entry(a).trace_id == b;
}

Shard::Shard(const Limits& limits, ExampleStore* examples, EdgeMatcher* edges)
    : limits_(limits),
      table_(0, EntryHash{this}, EntryEq{this}),
      evicted_ring_(std::max<uint32_t>(16, limits.max_traces / 4), 0),
      examples_(examples),
      edges_(edges) {}

Shard::~Shard() {
  // Intrusive lists must be emptied before their elements go away.
  live_.clear();
  finalized_.clear();
}

Shard::TraceEntry& Shard::Entry(uint32_t index) const {
  return entry_blocks_[index / kEntriesPerBlock][index % kEntriesPerBlock];
}

uint32_t Shard::AllocateEntry() {
  if (free_entries_.empty()) {
    const auto base = static_cast<uint32_t>(entry_blocks_.size() * kEntriesPerBlock);
    entry_blocks_.push_back(std::make_unique<TraceEntry[]>(kEntriesPerBlock));
    free_entries_.reserve(free_entries_.size() + kEntriesPerBlock);
    for (uint32_t i = kEntriesPerBlock; i-- > 0;) {
      entry_blocks_.back()[i].index = base + i;
      free_entries_.push_back(base + i);
    }
  }
  uint32_t index = free_entries_.back();
  free_entries_.pop_back();
  ++entries_in_use_;
  return index;
}

void Shard::ReleaseEntry(TraceEntry& entry) {
  const uint32_t index = entry.index;
  table_.erase(index);
  if (entry.hook.is_linked()) {
    if (entry.state == State::kLive) {
      live_.erase(live_.iterator_to(entry));
    } else {
      finalized_.erase(finalized_.iterator_to(entry));
    }
  }
  FreeChain(entry.span_head);
  FreeChain(entry.pending_head);
  FreeChain(entry.note_head);
  entry.span_head = entry.pending_head = entry.note_head = kNil;
  entry.span_count = entry.pending_count = 0;
  entry.state = State::kFree;
  entry.flags = 0;
  free_entries_.push_back(index);
  --entries_in_use_;
}

void Shard::MakeRoom() {
  while (entries_in_use_ >= limits_.max_traces) {
    if (!finalized_.empty()) {
      // A retained finalized trace only serves late-span matching: cheapest loss.
      ++stats_.finalized_traces_displaced;
      ReleaseEntry(finalized_.front());
    } else if (!live_.empty()) {
      // Never judged: its missing parents may simply not have arrived yet.
      TraceEntry& victim = live_.front();
      ++stats_.traces_evicted_capacity;
      RememberEvicted(victim.trace_id);
      ReleaseEntry(victim);
    } else {
      return;
    }
  }
}

uint32_t Shard::CreateTrace(const TraceId& id, int64_t now_ns) {
  MakeRoom();
  const uint32_t index = AllocateEntry();
  TraceEntry& entry = Entry(index);
  entry.trace_id = id;
  entry.last_ns = now_ns;
  entry.state = State::kLive;
  entry.flags = WasEvicted(id) ? kIncomplete : 0;
  if (now_ns < rebalance_until_ns_) entry.flags |= kRebalance;
  table_.insert(index);
  live_.push_back(entry);
  ++stats_.distinct_trace_ids;
  return index;
}

void Shard::RememberEvicted(const TraceId& id) {
  uint64_t& slot = evicted_ring_[evicted_next_];
  if (slot != 0) evicted_.erase(slot);
  slot = Fingerprint(id);
  evicted_.insert(slot);
  evicted_next_ = (evicted_next_ + 1) % evicted_ring_.size();
}

bool Shard::WasEvicted(const TraceId& id) const {
  return !evicted_.empty() && evicted_.contains(Fingerprint(id));
}

uint32_t Shard::AllocateChunk() {
  if (free_chunk_ != kNil) {
    uint32_t index = free_chunk_;
    free_chunk_ = Next(index);
    Next(index) = kNil;
    return index;
  }
  // Grow by whole blocks: no reallocation (so no copy and no doubling slack),
  // and cells keep their addresses.
  if (chunk_count_ % kChunksPerBlock == 0) {
    chunk_blocks_.push_back(std::make_unique<Chunk[]>(kChunksPerBlock));
    next_blocks_.push_back(std::make_unique<uint32_t[]>(kChunksPerBlock));
  }
  const uint32_t index = chunk_count_++;
  Next(index) = kNil;
  return index;
}

void Shard::FreeChain(uint32_t head) {
  while (head != kNil) {
    uint32_t next = Next(head);
    Next(head) = free_chunk_;
    free_chunk_ = head;
    head = next;
  }
}

Shard::Cell* Shard::CellAt(uint32_t head, uint32_t position) {
  for (uint32_t hops = position / kCellsPerChunk; hops > 0; --hops) head = Next(head);
  return &ChunkAt(head).cells[position % kCellsPerChunk];
}

Shard::Cell* Shard::AppendCell(uint32_t* head, uint16_t* count) {
  const uint32_t position = *count;
  if (position % kCellsPerChunk == 0) {
    const uint32_t fresh = AllocateChunk();
    if (*head == kNil) {
      *head = fresh;
    } else {
      uint32_t tail = *head;
      while (Next(tail) != kNil) tail = Next(tail);
      Next(tail) = fresh;
    }
    ++*count;
    return &ChunkAt(fresh).cells[0];
  }
  ++*count;
  return CellAt(*head, position);
}

ServiceCounters& Shard::CountersFor(uint16_t service) {
  if (service >= counters_.size()) counters_.resize(service + 1);
  return counters_[service];
}

void Shard::IngestSpan(const SpanRecord& span, const SpanMeta& meta, int64_t now_ns) {
  // 1. Find the trace; finalize or forget it first if its time has passed, so
  //    results do not depend on how often Advance() runs.
  uint32_t index = kNil;
  if (auto it = table_.find(span.trace_id); it != table_.end()) index = *it;
  if (index != kNil) {
    TraceEntry& entry = Entry(index);
    if (entry.state == State::kLive && now_ns - entry.last_ns >= limits_.idle_timeout_ns) {
      Finalize(entry, now_ns);
    }
    if (entry.state == State::kFinalized && now_ns - entry.last_ns >= limits_.retention_ns) {
      ReleaseEntry(entry);
      index = kNil;
    }
  }

  // 2. Duplicate check and parent lookup in one pass over the trace's spans.
  const uint64_t span_id = span.span_id.Low64();
  const bool is_root = span.IsRoot();
  const uint64_t parent_id = span.parent_span_id.Low64();
  // The parent's position is kept as (chunk, slot): appending may grow the
  // chunk pool and move cells.
  uint32_t parent_chunk = kNil;
  int parent_slot = 0;
  uint32_t parent_position = 0;
  if (index != kNil) {
    TraceEntry& entry = Entry(index);
    uint32_t chunk = entry.span_head;
    const Chunk* cells = entry.span_count > 0 ? &ChunkAt(chunk) : nullptr;
    for (uint32_t i = 0; i < entry.span_count; ++i) {
      if (i > 0 && i % kCellsPerChunk == 0) {
        chunk = Next(chunk);
        cells = &ChunkAt(chunk);
      }
      const Cell& cell = cells->cells[i % kCellsPerChunk];
      if (cell.id == span_id) {
        ++CountersFor(meta.service).duplicate_spans;
        return;  // a retry or a double export: counted once, as a duplicate
      }
      if (!is_root && cell.id == parent_id) {
        parent_chunk = chunk;
        parent_slot = static_cast<int>(i % kCellsPerChunk);
        parent_position = i;
      }
    }
  }

  // 3. Per-span definitions (stateless given the span).
  ServiceCounters& counters = CountersFor(meta.service);
  ++counters.spans;
  if (is_root) {
    ++counters.root_spans;
    if (!meta.entry_point) {
      if (!span.links.empty()) {
        ++counters.linked_roots;
      } else {
        ++counters.orphan_spans_by_kind[static_cast<int>(span.kind)];
        examples_->Record(meta.service, Finding::kOrphan, span.kind, span.trace_id, span_id, now_ns);
        if (edges_ != nullptr &&
            (span.kind == SpanKind::kServer || span.kind == SpanKind::kConsumer)) {
          EdgeSpan edge{span.trace_id, span_id, span.start_unix_nano, span.end_unix_nano};
          edge.service = meta.service;
          SetEdgeKeys(span, &edge);
          edges_->AddOrphan(
              edge, span.kind == SpanKind::kServer ? EdgeBoundary::kHttp : EdgeBoundary::kMessaging,
              now_ns);
        }
      }
    }
  }
  bool valid_header = false, invalid_header = false;
  for (std::string_view header : span.captured_traceparents) {
    TraceparentParse parse = ParseTraceparent(header);
    if (parse.ok) {
      ++counters.traceparents_valid;
      valid_header = true;
    } else {
      ++counters.invalid_traceparents_by_reason[static_cast<int>(parse.error)];
      invalid_header = true;
    }
  }
  if (invalid_header) {
    examples_->Record(meta.service, Finding::kInvalidTraceparent, SpanKind::kUnspecified,
                     span.trace_id, span_id, now_ns);
  }
  if (is_root && valid_header) {
    ++counters.extraction_failures;
    examples_->Record(meta.service, Finding::kExtractionFailure, SpanKind::kUnspecified,
                     span.trace_id, span_id, now_ns);
  }

  // 4. Track the span in its trace.
  bool late = false;
  if (index == kNil) {
    index = CreateTrace(span.trace_id, now_ns);
  } else {
    TraceEntry& entry = Entry(index);
    // Late: the trace was finalized before, even if an earlier late span has
    // re-opened it since.
    late = (entry.flags & kWasFinalized) != 0;
    if (entry.state == State::kFinalized) {
      finalized_.erase(finalized_.iterator_to(entry));
      entry.state = State::kLive;
      live_.push_back(entry);
    }
  }
  if (late) ++counters.late_spans;
  TraceEntry& entry = Entry(index);
  entry.last_ns = now_ns;
  live_.erase(live_.iterator_to(entry));
  live_.push_back(entry);
  // A trace that began before the engine did may have lost its first part
  // with a previous process (restart) or to another tap (scale-out).
  if (span.start_unix_nano != 0 && span.start_unix_nano < limits_.judge_spans_started_from_unix_ns) {
    entry.flags |= kStartedBeforeStart;
  }

  if (entry.span_count >= limits_.max_spans_per_trace) {
    entry.flags |= kTruncated;
    ++stats_.spans_untracked_trace_cap;
    return;
  }
  Cell* cell = AppendCell(&entry.span_head, &entry.span_count);
  cell->id = span_id;
  cell->service = meta.service;
  cell->destination = meta.destination;
  cell->kind = static_cast<uint8_t>(span.kind);
  cell->flags = 0;

  if (!is_root) {
    if (parent_chunk != kNil) {
      Cell& parent = ChunkAt(parent_chunk).cells[parent_slot];
      parent.flags |= kHasChild;
      if (parent.flags & kHasNote) {  // paired after all: no longer an edge candidate
        parent.flags &= ~kHasNote;
        RemoveNote(Entry(index), parent_position);
      }
    } else {
      Cell* pending = AppendCell(&entry.pending_head, &entry.pending_count);
      pending->id = parent_id;
      pending->service = meta.service;
      pending->flags = 0;
    }
  }

  // 5. Children that arrived before this span are no longer pending.
  if (entry.pending_count > 0) {
    bool resolved_any = false;
    uint32_t i = 0;
    while (i < entry.pending_count) {
      Cell* p = CellAt(entry.pending_head, i);
      if (p->id == span_id) {
        // Swap-remove with the last pending cell; free the tail chunk if empty.
        Cell* last = CellAt(entry.pending_head, entry.pending_count - 1);
        *p = *last;
        --entry.pending_count;
        if (entry.pending_count % kCellsPerChunk == 0) {
          if (entry.pending_count == 0) {
            FreeChain(entry.pending_head);
            entry.pending_head = kNil;
          } else {
            uint32_t tail = entry.pending_head;
            for (uint32_t hops = entry.pending_count / kCellsPerChunk - 1; hops > 0; --hops)
              tail = Next(tail);
            FreeChain(Next(tail));
            Next(tail) = kNil;
          }
        }
        resolved_any = true;
      } else {
        ++i;
      }
    }
    if (resolved_any) CellAt(entry.span_head, entry.span_count - 1)->flags |= kHasChild;
  }

  // 6. An outbound span with no child yet may become an edge candidate.
  if (edges_ != nullptr && IsOutbound(span.kind) &&
      !(span.kind == SpanKind::kClient ? span.peer_service.empty() && span.server_address.empty()
                                       : span.messaging_destination.empty())) {
    Cell* self = CellAt(entry.span_head, entry.span_count - 1);
    if (!(self->flags & kHasChild)) {
      EdgeSpan edge;
      SetEdgeKeys(span, &edge);
      const OutboundNote note{span.start_unix_nano,    span.end_unix_nano,   edge.peer_key,
                              edge.address_key,        edge.destination_key, edge.port,
                              static_cast<uint16_t>(entry.span_count - 1)};
      const uint32_t chunk = AllocateChunk();
      // Through void*: Chunk and OutboundNote are trivially copyable but not
      // trivial (member initializers), which -Wclass-memaccess flags.
      std::memcpy(static_cast<void*>(&ChunkAt(chunk)), &note, sizeof note);
      Next(chunk) = entry.note_head;
      entry.note_head = chunk;
      self->flags |= kHasNote;
    }
  }
}

Shard::OutboundNote Shard::ReadNote(uint32_t chunk) {
  OutboundNote note;
  std::memcpy(static_cast<void*>(&note), &ChunkAt(chunk), sizeof note);
  return note;
}

void Shard::RemoveNote(TraceEntry& entry, uint32_t position) {
  for (uint32_t* link = &entry.note_head; *link != kNil; link = &Next(*link)) {
    if (ReadNote(*link).position != position) continue;
    const uint32_t chunk = *link;
    *link = Next(chunk);
    Next(chunk) = free_chunk_;
    free_chunk_ = chunk;
    return;
  }
}

void Shard::Finalize(TraceEntry& entry, int64_t now_ns) {
  // Truncated or partly evicted traces are not judged: a missing parent may
  // be one we dropped ourselves (no false positives under pressure). Nor are
  // traces that may be split with another process (rollouts).
  const bool judge = (entry.flags & kUnjudged) == 0;
  if (!judge && !(entry.flags & kWasFinalized)) {
    // Counted once, under the first reason that applies.
    if (entry.flags & kTruncated) {
      ++stats_.traces_unjudged_truncated;
    } else if (entry.flags & kIncomplete) {
      ++stats_.traces_unjudged_evicted;
    } else if (entry.flags & kStartedBeforeStart) {
      ++stats_.traces_unjudged_started_before_start;
    } else {
      ++stats_.traces_unjudged_rebalance;
    }
  }
  if (judge) {
    for (uint32_t i = 0; i < entry.pending_count; ++i) {
      const Cell& pending = *CellAt(entry.pending_head, i);
      ++CountersFor(pending.service).broken_parents;
      examples_->Record(pending.service, Finding::kBrokenParent, SpanKind::kUnspecified,
                       entry.trace_id, pending.id, now_ns);
    }
  }
  uint32_t chunk = entry.span_head;
  Chunk* cells = entry.span_count > 0 ? &ChunkAt(chunk) : nullptr;
  for (uint32_t i = 0; i < entry.span_count; ++i) {
    if (i > 0 && i % kCellsPerChunk == 0) {
      chunk = Next(chunk);
      cells = &ChunkAt(chunk);
    }
    Cell& cell = cells->cells[i % kCellsPerChunk];
    if (cell.flags & kEvaluated) continue;
    cell.flags |= kEvaluated;
    const bool unpaired =
        judge && IsOutbound(static_cast<SpanKind>(cell.kind)) && !(cell.flags & kHasChild);
    if (unpaired) {
      ++CountersFor(cell.service).unpaired_outbound;
      ++unpaired_by_destination_[static_cast<uint32_t>(cell.service) << 16 | cell.destination];
      examples_->Record(cell.service, Finding::kUnpairedOutbound, static_cast<SpanKind>(cell.kind),
                       entry.trace_id, cell.id, now_ns);
    }
    if (cell.flags & kHasNote) {
      cell.flags &= ~kHasNote;
      if (unpaired) {
        // Usually the trace's only note, or one of very few.
        for (uint32_t chunk = entry.note_head; chunk != kNil; chunk = Next(chunk)) {
          const OutboundNote n = ReadNote(chunk);
          if (n.position != i) continue;
          edges_->AddOutbound(EdgeSpan{entry.trace_id, cell.id, n.start_ns, n.end_ns,
                                       n.peer_key, n.address_key, n.destination_key, n.port,
                                       cell.service},
                              static_cast<SpanKind>(cell.kind) == SpanKind::kClient
                                  ? EdgeBoundary::kHttp
                                  : EdgeBoundary::kMessaging,
                              now_ns);
          break;
        }
      }
    }
  }
  FreeChain(entry.note_head);
  entry.note_head = kNil;
  FreeChain(entry.pending_head);
  entry.pending_head = kNil;
  entry.pending_count = 0;
  live_.erase(live_.iterator_to(entry));
  entry.state = State::kFinalized;
  entry.flags |= kWasFinalized;
  entry.last_ns = now_ns;
  finalized_.push_back(entry);
  ++stats_.traces_finalized;
}

void Shard::Advance(int64_t now_ns) {
  while (!live_.empty() && now_ns - live_.front().last_ns >= limits_.idle_timeout_ns) {
    Finalize(live_.front(), now_ns);
  }
  while (!finalized_.empty() && now_ns - finalized_.front().last_ns >= limits_.retention_ns) {
    ReleaseEntry(finalized_.front());
  }
}

void Shard::BeginRebalance(int64_t until_ns) {
  rebalance_until_ns_ = std::max(rebalance_until_ns_, until_ns);
  for (TraceEntry& entry : live_) entry.flags |= kRebalance;
}

void Shard::MergeInto(std::vector<ServiceCounters>* services,
                      absl::flat_hash_map<uint32_t, uint64_t>* unpaired, ShardStats* stats,
                      EngineStats* gauges) const {
  if (services->size() < counters_.size()) services->resize(counters_.size());
  for (size_t i = 0; i < counters_.size(); ++i) (*services)[i] += counters_[i];
  for (const auto& [key, count] : unpaired_by_destination_) (*unpaired)[key] += count;
  stats->distinct_trace_ids += stats_.distinct_trace_ids;
  stats->traces_finalized += stats_.traces_finalized;
  stats->traces_evicted_capacity += stats_.traces_evicted_capacity;
  stats->finalized_traces_displaced += stats_.finalized_traces_displaced;
  stats->spans_untracked_trace_cap += stats_.spans_untracked_trace_cap;
  stats->traces_unjudged_truncated += stats_.traces_unjudged_truncated;
  stats->traces_unjudged_evicted += stats_.traces_unjudged_evicted;
  stats->traces_unjudged_started_before_start += stats_.traces_unjudged_started_before_start;
  stats->traces_unjudged_rebalance += stats_.traces_unjudged_rebalance;
  gauges->live_traces += live_.size();
  gauges->finalized_traces_retained += finalized_.size();
  gauges->tracked_bytes += entry_blocks_.size() * kEntriesPerBlock * sizeof(TraceEntry) +
                           chunk_blocks_.size() * kChunksPerBlock * (sizeof(Chunk) + sizeof(uint32_t)) +
                           table_.capacity() * (sizeof(uint32_t) + 1) +
                           evicted_ring_.size() * sizeof(uint64_t) +
                           evicted_.capacity() * (sizeof(uint64_t) + 1);
}

}  // namespace propwatch::detail
