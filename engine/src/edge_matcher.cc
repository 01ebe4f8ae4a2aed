#include "edge_matcher.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <queue>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace propwatch::detail {
namespace {

uint64_t TaggedKey(char tag, std::string_view value) {
  if (value.empty()) return 0;
  return absl::HashOf(tag, value) | 1;  // never 0, which means "absent"
}

uint64_t SaturatingSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

uint64_t PeerKey(std::string_view name) { return TaggedKey('p', name); }
uint64_t AddressKey(std::string_view address) { return TaggedKey('a', address); }
uint64_t DestinationKey(std::string_view destination) { return TaggedKey('m', destination); }

EdgeMatcher::EdgeMatcher(const Options& options) : options_(options) {}

int64_t EdgeMatcher::TimeToLive(EdgeBoundary boundary) const {
  // An orphan decided at (its arrival + delay) may have arrived up to one
  // delay after the candidate's trace was finalized; a message may wait
  // max_lag more before it is consumed.
  const int64_t base = 2 * options_.decision_delay_ns;
  return boundary == EdgeBoundary::kMessaging ? base + options_.max_lag_ns : base;
}

void EdgeMatcher::AddOrphan(const EdgeSpan& orphan, EdgeBoundary boundary, int64_t now_ns) {
  MutexLock lock(&mu_);
  if (orphans_.size() >= options_.max_candidates) {
    orphans_.pop_front();
    ++stats_.orphans_evicted;
  }
  orphans_.push_back(PendingOrphan{orphan, boundary, now_ns + options_.decision_delay_ns});
}

void EdgeMatcher::AddOutbound(const EdgeSpan& outbound, EdgeBoundary boundary, int64_t now_ns) {
  const bool http = boundary == EdgeBoundary::kHttp;
  uint64_t keys[2] = {http ? outbound.peer_key : outbound.destination_key,
                      http ? outbound.address_key : 0};
  if ((keys[0] == 0 && keys[1] == 0) || outbound.start_ns == 0) return;  // can never pair
  if (keys[0] == keys[1]) keys[1] = 0;
  MutexLock lock(&mu_);
  while (live_candidates_ >= options_.max_candidates) EvictOldestCandidate();
  uint32_t index;
  if (!free_candidates_.empty()) {
    index = free_candidates_.back();
    free_candidates_.pop_back();
  } else {
    index = static_cast<uint32_t>(candidates_.size());
    candidates_.emplace_back();
  }
  Candidate& c = candidates_[index];
  c.span = outbound;
  c.boundary = boundary;
  c.added_ns = now_ns;
  c.live = true;
  ++live_candidates_;
  const uint64_t duration = SaturatingSub(outbound.end_ns, outbound.start_ns);
  for (uint64_t key : keys) {
    if (key == 0) continue;
    KeyList& list = lists_[ListKey(key, boundary)];
    list.by_start.insert({outbound.start_ns, index});
    list.max_duration = std::max(list.max_duration, duration);
  }
  queues_[static_cast<int>(boundary)].push_back(QueueEntry{index, c.generation});
}

void EdgeMatcher::Unfile(uint64_t key, EdgeBoundary boundary, uint32_t index) {
  if (key == 0) return;
  auto it = lists_.find(ListKey(key, boundary));
  if (it == lists_.end()) return;
  it->second.by_start.erase({candidates_[index].span.start_ns, index});
  if (it->second.by_start.empty()) lists_.erase(it);
}

void EdgeMatcher::RemoveCandidate(uint32_t index) {
  Candidate& c = candidates_[index];
  if (c.boundary == EdgeBoundary::kHttp) {
    Unfile(c.span.peer_key, c.boundary, index);
    Unfile(c.span.address_key, c.boundary, index);
  } else {
    Unfile(c.span.destination_key, c.boundary, index);
  }
  c.live = false;
  ++c.generation;
  free_candidates_.push_back(index);
  --live_candidates_;
}

void EdgeMatcher::EvictOldestCandidate() {
  // The front of each queue, once stale entries are gone, is its oldest.
  const Candidate* oldest = nullptr;
  int oldest_queue = -1;
  for (int b = 0; b < kNumEdgeBoundaries; ++b) {
    auto& queue = queues_[b];
    while (!queue.empty() && (!candidates_[queue.front().candidate].live ||
                              candidates_[queue.front().candidate].generation !=
                                  queue.front().generation)) {
      queue.pop_front();
    }
    if (queue.empty()) continue;
    const Candidate* c = &candidates_[queue.front().candidate];
    if (oldest == nullptr || c->added_ns < oldest->added_ns) {
      oldest = c;
      oldest_queue = b;
    }
  }
  if (oldest_queue < 0) return;
  RemoveCandidate(queues_[oldest_queue].front().candidate);
  queues_[oldest_queue].pop_front();
  ++stats_.outbound_evicted;
}

void EdgeMatcher::Decide(int64_t now_ns) {
  MutexLock lock(&mu_);
  size_t due = 0;
  while (due < orphans_.size() && orphans_[due].due_ns <= now_ns) ++due;
  if (due > 0) {
    // The due orphans, then every pending orphan that competes with them for
    // a candidate (shares an index list, transitively): the matching is
    // computed over all of them and committed for the due ones only. So an
    // orphan decided early cannot take the candidate of a nearer one that
    // arrived later but before the decision (order independence).
    std::vector<PendingOrphan> batch(orphans_.begin(), orphans_.begin() + due);
    absl::flat_hash_set<uint64_t> touched;
    auto lists_of = [&](const PendingOrphan& r, uint64_t* keys) {
      int n = 0;
      auto add = [&](uint64_t key) {
        if (key != 0 && lists_.contains(ListKey(key, r.boundary))) keys[n++] = ListKey(key, r.boundary);
      };
      if (r.boundary == EdgeBoundary::kHttp) {
        add(r.span.peer_key);
        add(r.span.address_key);
      } else {
        add(r.span.destination_key);
      }
      return n;
    };
    for (const PendingOrphan& r : batch) {
      uint64_t keys[2];
      for (int k = lists_of(r, keys); k-- > 0;) touched.insert(keys[k]);
    }
    std::vector<bool> included(orphans_.size() - due, false);
    for (bool grew = !touched.empty(); grew;) {
      grew = false;
      for (size_t j = 0; j < included.size(); ++j) {
        if (included[j]) continue;
        const PendingOrphan& r = orphans_[due + j];
        uint64_t keys[2];
        const int n = lists_of(r, keys);
        bool competes = false;
        for (int k = 0; k < n; ++k) competes |= touched.contains(keys[k]);
        if (!competes) continue;
        included[j] = true;
        batch.push_back(r);
        for (int k = 0; k < n; ++k) grew |= touched.insert(keys[k]).second;
      }
    }
    DecideBatch(batch, due, now_ns);
    orphans_.erase(orphans_.begin(), orphans_.begin() + due);
  }
  // Candidates expire after the orphans due now had their chance.
  for (int b = 0; b < kNumEdgeBoundaries; ++b) {
    const int64_t ttl = TimeToLive(static_cast<EdgeBoundary>(b));
    auto& queue = queues_[b];
    while (!queue.empty()) {
      const QueueEntry entry = queue.front();
      const Candidate& c = candidates_[entry.candidate];
      const bool stale = !c.live || c.generation != entry.generation;
      if (!stale && now_ns - c.added_ns < ttl) break;
      if (!stale) RemoveCandidate(entry.candidate);
      queue.pop_front();
    }
  }
}

namespace {

// A walk over one index list away from the orphan's start time, either down
// (earlier candidates) or up (later ones, within the skew), yielding the
// candidates that satisfy the rule in order of distance.
struct Walk {
  const void* list = nullptr;  // StartIndex
  bool down = false;
  bool check_port = false;
  uint64_t low = 0, high = 0;  // start-time range
  // Down: the next element is std::prev(pos); up: the next element is pos.
  absl::btree_set<std::pair<uint64_t, uint32_t>>::const_iterator pos;
};

}  // namespace

void EdgeMatcher::DecideBatch(std::vector<PendingOrphan>& batch, size_t commit, int64_t now_ns) {
  using Index = StartIndex;
  absl::flat_hash_set<uint32_t> used;
  std::vector<std::vector<Walk>> walks(batch.size());

  auto valid = [&](const PendingOrphan& r, const Walk& w, uint32_t index) {
    if (used.contains(index)) return false;
    const Candidate& c = candidates_[index];
    if (c.span.trace_id == r.span.trace_id) return false;  // "in another trace"
    if (r.boundary == EdgeBoundary::kHttp) {
      // The client's span contains the server's, within the skew.
      const uint64_t r_end = std::max(r.span.end_ns, r.span.start_ns);
      if (c.span.end_ns + static_cast<uint64_t>(options_.skew_ns) < r_end) return false;
      if (w.check_port && c.span.port != 0 && r.span.port != 0 && c.span.port != r.span.port)
        return false;
    }
    return true;
  };
  // The next valid candidate of a walk, or nullopt when it is exhausted.
  auto peek = [&](const PendingOrphan& r, Walk& w) -> std::optional<uint32_t> {
    const Index& list = *static_cast<const Index*>(w.list);
    while (true) {
      Index::const_iterator e;
      if (w.down) {
        if (w.pos == list.begin()) return std::nullopt;
        e = std::prev(w.pos);
        if (e->first < w.low) return std::nullopt;
      } else {
        if (w.pos == list.end()) return std::nullopt;
        e = w.pos;
        if (e->first > w.high) return std::nullopt;
      }
      if (valid(r, w, e->second)) return e->second;
      if (w.down) {
        w.pos = e;
      } else {
        ++w.pos;
      }
    }
  };
  auto skip = [](Walk& w) {
    if (w.down) {
      --w.pos;
    } else {
      ++w.pos;
    }
  };

  // Heap of each orphan's current best offer; the global minimum is taken
  // first. Order: distance, then candidate ids, then orphan ids.
  struct Offer {
    uint64_t distance;
    uint32_t orphan;
    uint32_t candidate;
    uint32_t walk;
  };
  auto later = [&](const Offer& a, const Offer& b) {
    if (a.distance != b.distance) return a.distance > b.distance;
    const EdgeSpan& ca = candidates_[a.candidate].span;
    const EdgeSpan& cb = candidates_[b.candidate].span;
    if (ca.trace_id.bytes != cb.trace_id.bytes) return ca.trace_id.bytes > cb.trace_id.bytes;
    if (ca.span_id != cb.span_id) return ca.span_id > cb.span_id;
    const EdgeSpan& ra = batch[a.orphan].span;
    const EdgeSpan& rb = batch[b.orphan].span;
    if (ra.trace_id.bytes != rb.trace_id.bytes) return ra.trace_id.bytes > rb.trace_id.bytes;
    return ra.span_id > rb.span_id;
  };
  std::priority_queue<Offer, std::vector<Offer>, decltype(later)> heap(later);
  auto best_offer = [&](uint32_t i) -> std::optional<Offer> {
    std::optional<Offer> best;
    const EdgeSpan& r = batch[i].span;
    for (uint32_t k = 0; k < walks[i].size(); ++k) {
      std::optional<uint32_t> c = peek(batch[i], walks[i][k]);
      if (!c) continue;
      const uint64_t start = candidates_[*c].span.start_ns;
      Offer offer{start > r.start_ns ? start - r.start_ns : r.start_ns - start, i, *c, k};
      if (!best || later(*best, offer)) best = offer;
    }
    return best;
  };

  const uint64_t skew = static_cast<uint64_t>(options_.skew_ns);
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const PendingOrphan& r = batch[i];
    if (r.span.start_ns == 0) continue;  // no time to match on
    auto add = [&](uint64_t key, bool check_port, uint64_t low, uint64_t high_from_list) {
      if (key == 0) return;
      auto it = lists_.find(ListKey(key, r.boundary));
      if (it == lists_.end()) return;
      const Index& list = it->second.by_start;
      uint64_t lo = low;
      if (high_from_list) lo = SaturatingSub(lo, it->second.max_duration);
      const auto split = list.upper_bound({r.span.start_ns, UINT32_MAX});
      walks[i].push_back(Walk{&list, true, check_port, lo, r.span.start_ns + skew, split});
      walks[i].push_back(Walk{&list, false, check_port, lo, r.span.start_ns + skew, split});
    };
    if (r.boundary == EdgeBoundary::kHttp) {
      // A client that started before (end - skew - its duration) ended too
      // early to contain the server span.
      const uint64_t r_end = std::max(r.span.end_ns, r.span.start_ns);
      add(r.span.peer_key, false, SaturatingSub(r_end, skew), 1);
      add(r.span.address_key, true, SaturatingSub(r_end, skew), 1);
    } else {
      add(r.span.destination_key, false,
          SaturatingSub(r.span.start_ns, static_cast<uint64_t>(options_.max_lag_ns)), 0);
    }
    if (std::optional<Offer> offer = best_offer(i)) heap.push(*offer);
  }

  std::vector<int64_t> match(batch.size(), -1);
  while (!heap.empty()) {
    const Offer offer = heap.top();
    heap.pop();
    if (used.contains(offer.candidate)) {
      // Taken since this offer was made: the orphan's next best.
      skip(walks[offer.orphan][offer.walk]);
      if (std::optional<Offer> next = best_offer(offer.orphan)) heap.push(*next);
      continue;
    }
    used.insert(offer.candidate);
    match[offer.orphan] = offer.candidate;
  }
  for (uint32_t i = 0; i < commit; ++i) {
    Count(batch[i], match[i] >= 0 ? &candidates_[match[i]] : nullptr, now_ns);
  }
  // Only the committed orphans use up their candidates; the others' matches
  // are recomputed when they are due.
  for (uint32_t i = 0; i < commit; ++i) {
    if (match[i] >= 0) RemoveCandidate(static_cast<uint32_t>(match[i]));
  }
}

void EdgeMatcher::Count(const PendingOrphan& orphan, const Candidate* caller, int64_t now_ns) {
  const uint16_t caller_id = caller ? caller->span.service : kUnknownCallerId;
  const uint64_t key = EdgeKey(caller_id, orphan.span.service, orphan.boundary);
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= options_.max_series) {
      ++stats_.series_overflow;
      return;
    }
    it = series_.emplace(key, Series{}).first;
    if (options_.examples_per_edge > 0) {
      it->second.ring = std::make_unique<Example[]>(options_.examples_per_edge);
    }
  }
  Series& series = it->second;
  ++series.count;
  if (options_.examples_per_edge == 0) return;
  Example& x = series.ring[series.next];
  x.trace_id = orphan.span.trace_id;
  x.span_id = orphan.span.span_id;
  x.caller_trace_id = caller ? caller->span.trace_id : TraceId{};
  x.caller_span_id = caller ? caller->span.span_id : 0;
  x.seen_ns = now_ns;
  series.next = (series.next + 1) % options_.examples_per_edge;
  series.size = std::min(series.size + 1, options_.examples_per_edge);
}

void EdgeMatcher::AddCounts(absl::flat_hash_map<uint64_t, uint64_t>* counts) const {
  MutexLock lock(&mu_);
  for (const auto& [key, series] : series_) (*counts)[key] += series.count;
}

EdgeMatcher::Stats EdgeMatcher::GetStats() const {
  MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.orphans_pending = orphans_.size();
  stats.outbound_candidates = live_candidates_;
  stats.series = series_.size();
  size_t list_entries = 0;
  for (const auto& [key, list] : lists_) list_entries += list.by_start.size();
  stats.bytes = orphans_.size() * sizeof(PendingOrphan) + candidates_.capacity() * sizeof(Candidate) +
                free_candidates_.capacity() * sizeof(uint32_t) +
                (queues_[0].size() + queues_[1].size()) * sizeof(QueueEntry) +
                list_entries * 2 * sizeof(std::pair<uint64_t, uint32_t>) +
                lists_.capacity() * (sizeof(uint64_t) + sizeof(KeyList) + 1) +
                series_.capacity() * (sizeof(uint64_t) + sizeof(Series) + 1) +
                series_.size() * options_.examples_per_edge * sizeof(Example);
  return stats;
}

void EdgeMatcher::ForEachExample(const std::function<void(uint64_t, const Example&)>& fn) const {
  MutexLock lock(&mu_);
  for (const auto& [key, series] : series_) {
    for (uint32_t k = 0; k < series.size; ++k) {
      const uint32_t n = options_.examples_per_edge;
      fn(key, series.ring[(series.next + n - series.size + k) % n]);
    }
  }
}

}  // namespace propwatch::detail
