// ExampleStore: the engine's bounded memory of recent finding examples. For
// each series (service, finding, span kind) a ring of the last `per_series`
// (trace id, span id, time) entries, engine-wide.
//
// Bounds: at most `max_series` series over the whole engine (an exact global
// count); a finding of a new series beyond that is not kept and is counted
// (overflow()). Memory: per series, one ring of per_series x 32 bytes
// allocated when the series appears, plus ~60 bytes of bookkeeping.
//
// Thread-safe. Series are spread over kPartitions mutexes by a hash of their
// key, so stripes recording different series rarely meet. Lock order: a
// stripe's mutex before any partition mutex (Record runs under the stripe's
// lock); ForEach takes partition mutexes only. Record is O(1) (one hash
// lookup); ForEach is O(entries kept).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "mutex.h"
#include "propwatch/finding.h"
#include "propwatch/ids.h"

namespace propwatch::detail {

class ExampleStore {
 public:
  struct Entry {
    TraceId trace_id;
    uint64_t span_id = 0;
    int64_t seen_ns = 0;
  };
  static_assert(sizeof(Entry) == 32);

  ExampleStore(uint32_t max_series, uint32_t per_series)
      : max_series_(max_series), per_series_(per_series) {}

  // Keeps (trace, span, now) as the newest example of the series; a broken
  // parent the series already holds is not kept twice (several children of
  // one missing parent are one example). O(1), O(per_series) for broken
  // parents, under one partition lock.
  void Record(uint16_t service, Finding finding, SpanKind kind, const TraceId& trace_id,
              uint64_t span_id, int64_t now_ns) {
    if (per_series_ == 0) return;
    const uint32_t key = Key(service, finding, kind);
    Partition& p = partitions_[PartitionOf(key)];
    MutexLock lock(&p.mu);
    auto it = p.index.find(key);
    if (it == p.index.end()) {
      if (series_.fetch_add(1, std::memory_order_relaxed) >= max_series_) {
        series_.fetch_sub(1, std::memory_order_relaxed);
        overflow_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      p.series.push_back(Series{key, 0, 0, std::make_unique<Entry[]>(per_series_)});
      it = p.index.emplace(key, &p.series.back()).first;  // a deque: addresses stay
    }
    Series& s = *it->second;
    // Only a broken parent repeats a (trace, span): one per child of the
    // missing parent, all at one finalization.
    if (finding == Finding::kBrokenParent) {
      for (uint32_t k = 0; k < s.size; ++k) {
        if (s.ring[k].span_id == span_id && s.ring[k].trace_id == trace_id) return;
      }
    }
    s.ring[s.next] = Entry{trace_id, span_id, now_ns};
    s.next = s.next + 1 == per_series_ ? 0 : s.next + 1;
    if (s.size < per_series_) ++s.size;
  }

  // f(service, finding, kind, entry) for every kept entry, in no order,
  // under one partition's lock at a time: f must not call back in.
  template <typename F>
  void ForEach(F&& f) {
    for (Partition& p : partitions_) {
      MutexLock lock(&p.mu);
      for (const Series& s : p.series) {
        for (uint32_t k = 0; k < s.size; ++k) {
          f(static_cast<uint16_t>(s.key >> 16), static_cast<Finding>((s.key >> 8) & 0xff),
            static_cast<SpanKind>(s.key & 0xff), s.ring[k]);
        }
      }
    }
  }

  uint64_t series() const { return series_.load(std::memory_order_relaxed); }
  uint64_t overflow() const { return overflow_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kPartitions = 16;

  static uint32_t Key(uint16_t service, Finding finding, SpanKind kind) {
    return static_cast<uint32_t>(service) << 16 | static_cast<uint32_t>(finding) << 8 |
           static_cast<uint32_t>(kind);
  }
  static size_t PartitionOf(uint32_t key) {
    return static_cast<size_t>((key * 0x9e3779b1u) >> 28);  // top 4 bits: 16 partitions
  }

  struct Series {
    uint32_t key;
    uint32_t next;  // ring position of the next write
    uint32_t size;  // entries kept, <= per_series_
    std::unique_ptr<Entry[]> ring;  // per_series_ entries
  };
  struct Partition {
    Mutex mu;
    absl::flat_hash_map<uint32_t, Series*> index ABSL_GUARDED_BY(mu);
    std::deque<Series> series ABSL_GUARDED_BY(mu);  // never moves an element
  };
  static_assert(kPartitions == 16, "PartitionOf takes the top 4 bits");

  const uint32_t max_series_;
  const uint32_t per_series_;
  std::array<Partition, kPartitions> partitions_;
  std::atomic<uint64_t> series_{0};
  std::atomic<uint64_t> overflow_{0};
};

}  // namespace propwatch::detail
