#include "edge_matcher.h"

#include <algorithm>
#include <array>
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

EdgeMatcher::Keys EdgeMatcher::KeysOf(const EdgeSpan& span, EdgeBoundary boundary) {
  Keys keys;
  if (boundary == EdgeBoundary::kHttp) {
    keys.key[0] = ListKey(span.peer_key, boundary);
    keys.key[1] = ListKey(span.address_key, boundary);
    if (keys.key[1] == keys.key[0]) keys.key[1] = 0;
  } else {
    keys.key[0] = ListKey(span.destination_key, boundary);
  }
  return keys;
}

void EdgeMatcher::AddOrphan(const EdgeSpan& orphan, EdgeBoundary boundary, int64_t now_ns) {
  MutexLock lock(&mu_);
  if (orphans_.size() >= options_.max_candidates) {
    UnindexOrphan(orphans_.front());
    orphans_.pop_front();
    ++stats_.orphans_evicted;
  }
  const uint64_t seq = next_orphan_seq_++;
  orphans_.push_back(PendingOrphan{orphan, boundary, now_ns + options_.decision_delay_ns, seq});
  if (orphan.start_ns == 0) return;  // no time to match on: never paired, never competes
  for (uint64_t key : KeysOf(orphan, boundary).key) {
    if (key == 0) continue;
    orphan_lists_[key].insert({orphan.start_ns, seq});
    Want(key);
  }
}

void EdgeMatcher::UnindexOrphan(const PendingOrphan& orphan) {
  if (orphan.span.start_ns == 0) return;
  for (uint64_t key : KeysOf(orphan.span, orphan.boundary).key) {
    if (key == 0) continue;
    auto it = orphan_lists_.find(key);
    if (it == orphan_lists_.end()) continue;
    it->second.erase({orphan.span.start_ns, orphan.seq});
    if (it->second.empty()) orphan_lists_.erase(it);
  }
}

void EdgeMatcher::Want(uint64_t key) {
  if (want_all_ || wanted_.contains(key)) return;
  const bool all = wanted_.size() >= kMaxWanted;
  if (all) {
    want_all_ = true;
    wanted_.clear();
    for (auto& word : want_bits_) word.store(~uint64_t{0}, std::memory_order_relaxed);
  } else {
    wanted_.insert(key);
    const uint64_t bit = key % kWantBits;
    want_bits_[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
  }
  // Index the candidates already held under the newly wanted key(s).
  for (uint64_t n = ring_tail_; n < ring_next_; ++n) {
    const uint32_t slot = static_cast<uint32_t>(n % options_.max_candidates);
    Candidate& c = ring_[slot];
    if (!c.live) continue;
    const Keys keys = KeysOf(c.span, c.boundary);
    for (int k = 0; k < 2; ++k) {
      if (keys.key[k] != 0 && !(c.filed & (1 << k)) && (all || keys.key[k] == key)) File(slot, k);
    }
  }
}

void EdgeMatcher::File(uint32_t slot, int k) {
  Candidate& c = ring_[slot];
  KeyList& list = lists_[KeysOf(c.span, c.boundary).key[k]];
  list.by_start.insert({c.span.start_ns, slot});
  list.max_duration = std::max(list.max_duration, SaturatingSub(c.span.end_ns, c.span.start_ns));
  c.filed |= static_cast<uint8_t>(1 << k);
}

void EdgeMatcher::AddOutbound(const EdgeSpan& outbound, EdgeBoundary boundary, int64_t now_ns) {
  const Keys keys = KeysOf(outbound, boundary);
  if ((keys.key[0] == 0 && keys.key[1] == 0) || outbound.start_ns == 0) return;  // can never pair
  const bool http = boundary == EdgeBoundary::kHttp;
  // An http call to a destination no orphan has named: nothing will claim it.
  if (http && !(keys.key[0] != 0 && MaybeWanted(keys.key[0])) &&
      !(keys.key[1] != 0 && MaybeWanted(keys.key[1]))) {
    return;
  }
  MutexLock lock(&mu_);
  if (http && !want_all_ && !wanted_.contains(keys.key[0]) && !wanted_.contains(keys.key[1])) {
    return;  // the bits were a false positive
  }
  const uint64_t capacity = options_.max_candidates;
  const uint32_t slot = static_cast<uint32_t>(ring_next_ % capacity);
  if (slot == ring_.size()) ring_.emplace_back();
  if (ring_[slot].live) {
    if (!Expired(ring_[slot], now_ns)) ++stats_.outbound_evicted;
    RemoveCandidate(slot);
  }
  Candidate& c = ring_[slot];
  c.span = outbound;
  c.boundary = boundary;
  c.added_ns = now_ns;
  c.live = true;
  c.filed = 0;
  ++live_candidates_;
  ++ring_next_;
  if (ring_next_ - ring_tail_ > capacity) ring_tail_ = ring_next_ - capacity;
  for (int k = 0; k < 2; ++k) {
    if (keys.key[k] != 0 && (want_all_ || wanted_.contains(keys.key[k]))) File(slot, k);
  }
}

void EdgeMatcher::RemoveCandidate(uint32_t slot) {
  Candidate& c = ring_[slot];
  const Keys keys = KeysOf(c.span, c.boundary);
  for (int k = 0; k < 2; ++k) {
    if (!(c.filed & (1 << k))) continue;
    auto it = lists_.find(keys.key[k]);
    if (it == lists_.end()) continue;
    it->second.by_start.erase({c.span.start_ns, slot});
    if (it->second.by_start.empty()) lists_.erase(it);
  }
  c.live = false;
  c.filed = 0;
  --live_candidates_;
}

bool EdgeMatcher::Valid(const PendingOrphan& r, uint32_t slot, bool check_port) const {
  const Candidate& c = ring_[slot];
  // Expiry is judged at the orphan's due time, not at whenever Decide runs.
  if (!c.live || r.due_ns - c.added_ns >= TimeToLive(c.boundary)) return false;
  if (c.span.trace_id == r.span.trace_id) return false;  // "in another trace"
  const uint64_t skew = static_cast<uint64_t>(options_.skew_ns);
  if (c.span.start_ns > r.span.start_ns + skew) return false;
  if (r.boundary == EdgeBoundary::kHttp) {
    // The client's span contains the server's, within the skew.
    const uint64_t r_end = std::max(r.span.end_ns, r.span.start_ns);
    if (c.span.end_ns + skew < r_end) return false;
    if (check_port && c.span.port != 0 && r.span.port != 0 && c.span.port != r.span.port)
      return false;
  } else if (r.span.start_ns > c.span.start_ns + static_cast<uint64_t>(options_.max_lag_ns)) {
    return false;  // waited longer than max_lag
  }
  return true;
}

namespace {

uint64_t Distance(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

}  // namespace

bool EdgeMatcher::Contested(const PendingOrphan& r, uint32_t slot,
                            uint64_t first_not_due_seq) const {
  const Candidate& c = ring_[slot];
  const uint64_t d = Distance(r.span.start_ns, c.span.start_ns);
  const uint64_t front_seq = orphans_.front().seq;
  const Keys keys = KeysOf(c.span, c.boundary);
  for (int k = 0; k < 2; ++k) {
    if (keys.key[k] == 0) continue;
    auto it = orphan_lists_.find(keys.key[k]);
    if (it == orphan_lists_.end()) continue;
    const StartIndex& pending = it->second;
    for (auto e = pending.lower_bound({SaturatingSub(c.span.start_ns, d), 0});
         e != pending.end() && e->first <= c.span.start_ns + d; ++e) {
      if (e->second < first_not_due_seq) continue;  // due: already in the matching
      const PendingOrphan& other = orphans_[e->second - front_seq];
      const bool check_port = c.boundary == EdgeBoundary::kHttp && k == 1;
      if (!Valid(other, slot, check_port)) continue;
      const uint64_t d2 = Distance(other.span.start_ns, c.span.start_ns);
      if (d2 < d) return true;
      if (d2 == d && std::make_pair(other.span.trace_id.bytes, other.span.span_id) <
                         std::make_pair(r.span.trace_id.bytes, r.span.span_id)) {
        return true;
      }
    }
  }
  return false;
}

void EdgeMatcher::Decide(int64_t now_ns) {
  MutexLock lock(&mu_);
  size_t due = 0;
  while (due < orphans_.size() && orphans_[due].due_ns <= now_ns) ++due;
  if (due > 0) {
    std::vector<const PendingOrphan*> batch;
    batch.reserve(due);
    for (size_t i = 0; i < due; ++i) batch.push_back(&orphans_[i]);
    std::vector<int64_t> match = Match(batch);
    const uint64_t first_not_due = due < orphans_.size() ? orphans_[due].seq : next_orphan_seq_;
    bool contested = false;
    for (size_t i = 0; i < due && !contested; ++i) {
      contested = match[i] >= 0 &&
                  Contested(*batch[i], static_cast<uint32_t>(match[i]), first_not_due);
    }
    if (contested) {
      // Rare: recompute with every pending orphan that competes with the due
      // ones (shares a list key with them, transitively).
      absl::flat_hash_set<uint64_t> touched;
      for (const PendingOrphan* r : batch) {
        for (uint64_t key : KeysOf(r->span, r->boundary).key) {
          if (key != 0 && r->span.start_ns != 0) touched.insert(key);
        }
      }
      std::vector<bool> included(orphans_.size() - due, false);
      for (bool grew = true; grew;) {
        grew = false;
        for (size_t j = 0; j < included.size(); ++j) {
          const PendingOrphan& r = orphans_[due + j];
          if (included[j] || r.span.start_ns == 0) continue;
          const Keys keys = KeysOf(r.span, r.boundary);
          if (!touched.contains(keys.key[0]) && !touched.contains(keys.key[1])) continue;
          included[j] = true;
          batch.push_back(&r);
          for (uint64_t key : keys.key) {
            if (key != 0) grew |= touched.insert(key).second;
          }
        }
      }
      match = Match(batch);
    }
    for (size_t i = 0; i < due; ++i) {
      Count(*batch[i], match[i] >= 0 ? &ring_[match[i]] : nullptr, now_ns);
    }
    // Only the committed orphans use up their candidates.
    for (size_t i = 0; i < due; ++i) {
      if (match[i] >= 0) RemoveCandidate(static_cast<uint32_t>(match[i]));
    }
    for (size_t i = 0; i < due; ++i) {
      UnindexOrphan(orphans_.front());
      orphans_.pop_front();
    }
  }
  // Candidates expire after the orphans due now had their chance. A live
  // messaging candidate at the tail holds back the expiry of later http ones;
  // Valid() never pairs an expired candidate.
  while (ring_tail_ < ring_next_) {
    const uint32_t slot = static_cast<uint32_t>(ring_tail_ % options_.max_candidates);
    if (ring_[slot].live) {
      if (!Expired(ring_[slot], now_ns)) break;
      RemoveCandidate(slot);
    }
    ++ring_tail_;
  }
}

namespace {

// A walk over one index list away from the orphan's start time, either down
// (earlier candidates) or up (later ones, within the skew), yielding the
// candidates that satisfy the rule in order of distance.
struct Walk {
  const absl::btree_set<std::pair<uint64_t, uint64_t>>* list = nullptr;
  bool down = false;
  bool check_port = false;
  uint64_t low = 0, high = 0;  // start-time range
  // Down: the next element is std::prev(pos); up: the next element is pos.
  absl::btree_set<std::pair<uint64_t, uint64_t>>::const_iterator pos;
};

// At most two lists per orphan, walked both ways.
struct Walks {
  std::array<Walk, 4> walk;
  uint32_t size = 0;
};

}  // namespace

std::vector<int64_t> EdgeMatcher::Match(const std::vector<const PendingOrphan*>& batch) {
  // A candidate is used in this matching when its mark is this epoch.
  if (++match_epoch_ == 0) {  // wrapped: clear every mark once
    for (Candidate& c : ring_) c.used_in = 0;
    match_epoch_ = 1;
  }
  const uint32_t epoch = match_epoch_;
  // Clang analyses a lambda on its own: each says it runs under mu_ (as Match does).
  auto used = [&](uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ring_[slot].used_in == epoch;
  };
  std::vector<Walks> walks(batch.size());

  // The next valid candidate of a walk, or nullopt when it is exhausted.
  auto peek = [&](const PendingOrphan& r, Walk& w)
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<uint32_t> {
    while (true) {
      StartIndex::const_iterator e;
      if (w.down) {
        if (w.pos == w.list->begin()) return std::nullopt;
        e = std::prev(w.pos);
        if (e->first < w.low) return std::nullopt;
      } else {
        if (w.pos == w.list->end()) return std::nullopt;
        e = w.pos;
        if (e->first > w.high) return std::nullopt;
      }
      const auto slot = static_cast<uint32_t>(e->second);
      if (!used(slot) && Valid(r, slot, w.check_port)) return slot;
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
  auto later = [&](const Offer& a, const Offer& b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (a.distance != b.distance) return a.distance > b.distance;
    const EdgeSpan& ca = ring_[a.candidate].span;
    const EdgeSpan& cb = ring_[b.candidate].span;
    if (ca.trace_id.bytes != cb.trace_id.bytes) return ca.trace_id.bytes > cb.trace_id.bytes;
    if (ca.span_id != cb.span_id) return ca.span_id > cb.span_id;
    const EdgeSpan& ra = batch[a.orphan]->span;
    const EdgeSpan& rb = batch[b.orphan]->span;
    if (ra.trace_id.bytes != rb.trace_id.bytes) return ra.trace_id.bytes > rb.trace_id.bytes;
    return ra.span_id > rb.span_id;
  };
  std::priority_queue<Offer, std::vector<Offer>, decltype(later)> heap(later);
  auto best_offer = [&](uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<Offer> {
    std::optional<Offer> best;
    const EdgeSpan& r = batch[i]->span;
    for (uint32_t k = 0; k < walks[i].size; ++k) {
      std::optional<uint32_t> c = peek(*batch[i], walks[i].walk[k]);
      if (!c) continue;
      Offer offer{Distance(ring_[*c].span.start_ns, r.start_ns), i, *c, k};
      if (!best || later(*best, offer)) best = offer;
    }
    return best;
  };

  const uint64_t skew = static_cast<uint64_t>(options_.skew_ns);
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const PendingOrphan& r = *batch[i];
    if (r.span.start_ns == 0) continue;  // no time to match on
    const Keys keys = KeysOf(r.span, r.boundary);
    for (int k = 0; k < 2; ++k) {
      if (keys.key[k] == 0) continue;
      auto it = lists_.find(keys.key[k]);
      if (it == lists_.end()) continue;
      uint64_t low;
      if (r.boundary == EdgeBoundary::kHttp) {
        // A client that started before (end - skew - the longest duration
        // in the list) ended too early to contain the server span.
        const uint64_t r_end = std::max(r.span.end_ns, r.span.start_ns);
        low = SaturatingSub(SaturatingSub(r_end, skew), it->second.max_duration);
      } else {
        low = SaturatingSub(r.span.start_ns, static_cast<uint64_t>(options_.max_lag_ns));
      }
      const StartIndex& list = it->second.by_start;
      const bool check_port = r.boundary == EdgeBoundary::kHttp && k == 1;
      const auto split = list.upper_bound({r.span.start_ns, UINT64_MAX});
      walks[i].walk[walks[i].size++] =
          Walk{&list, true, check_port, low, r.span.start_ns + skew, split};
      walks[i].walk[walks[i].size++] =
          Walk{&list, false, check_port, low, r.span.start_ns + skew, split};
    }
    if (std::optional<Offer> offer = best_offer(i)) heap.push(*offer);
  }

  std::vector<int64_t> match(batch.size(), -1);
  while (!heap.empty()) {
    const Offer offer = heap.top();
    heap.pop();
    if (used(offer.candidate)) {
      // Taken since this offer was made: the orphan's next best.
      skip(walks[offer.orphan].walk[offer.walk]);
      if (std::optional<Offer> next = best_offer(offer.orphan)) heap.push(*next);
      continue;
    }
    ring_[offer.candidate].used_in = epoch;
    match[offer.orphan] = offer.candidate;
  }
  return match;
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
  size_t list_entries = 0, orphan_entries = 0;
  for (const auto& [key, list] : lists_) list_entries += list.by_start.size();
  for (const auto& [key, list] : orphan_lists_) orphan_entries += list.size();
  constexpr size_t kIndexEntry = 2 * sizeof(std::pair<uint64_t, uint64_t>);  // btree, with slack
  stats.bytes = orphans_.size() * sizeof(PendingOrphan) + ring_.capacity() * sizeof(Candidate) +
                (list_entries + orphan_entries) * kIndexEntry +
                lists_.capacity() * (sizeof(uint64_t) + sizeof(KeyList) + 1) +
                orphan_lists_.capacity() * (sizeof(uint64_t) + sizeof(StartIndex) + 1) +
                wanted_.capacity() * (sizeof(uint64_t) + 1) +
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
