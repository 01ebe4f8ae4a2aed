// ExampleBook: one stripe's bounded memory of recent finding examples — for
// each series (service, finding, span kind) a ring of the last
// `per_series` (trace id, span id, time) entries.
//
// Bounds: at most `max_series` series; a finding of a new series beyond that
// is not kept and is counted (overflow()). Memory: max_series x per_series x
// 32 bytes plus the index, allocated as series appear.
//
// Thread-compatible: the owning Shard's lock guards it. Record is O(1)
// (one hash lookup); ForEach is O(entries).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "propwatch/finding.h"
#include "propwatch/ids.h"

namespace propwatch::detail {

class ExampleBook {
 public:
  struct Entry {
    TraceId trace_id;
    uint64_t span_id = 0;
    int64_t seen_ns = 0;
  };
  static_assert(sizeof(Entry) == 32);

  ExampleBook(uint32_t max_series, uint32_t per_series)
      : max_series_(max_series), per_series_(per_series) {}

  void Record(uint16_t service, Finding finding, SpanKind kind, const TraceId& trace_id,
              uint64_t span_id, int64_t now_ns) {
    if (per_series_ == 0) return;
    const uint32_t key = static_cast<uint32_t>(service) << 16 |
                         static_cast<uint32_t>(finding) << 8 | static_cast<uint32_t>(kind);
    auto it = index_.find(key);
    if (it == index_.end()) {
      if (index_.size() >= max_series_) {
        ++overflow_;
        return;
      }
      it = index_.emplace(key, static_cast<uint32_t>(series_.size())).first;
      series_.push_back(Series{key, 0, 0});
      entries_.resize(entries_.size() + per_series_);
    }
    Series& s = series_[it->second];
    entries_[static_cast<size_t>(it->second) * per_series_ + s.next] = Entry{trace_id, span_id, now_ns};
    s.next = (s.next + 1) % per_series_;
    if (s.size < per_series_) ++s.size;
  }

  // f(service, finding, kind, entry) for every kept entry, in no order.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < series_.size(); ++i) {
      const Series& s = series_[i];
      for (uint32_t k = 0; k < s.size; ++k) {
        f(static_cast<uint16_t>(s.key >> 16), static_cast<Finding>((s.key >> 8) & 0xff),
          static_cast<SpanKind>(s.key & 0xff), entries_[i * per_series_ + k]);
      }
    }
  }

  size_t series() const { return series_.size(); }
  uint64_t overflow() const { return overflow_; }
  size_t bytes() const {
    return entries_.capacity() * sizeof(Entry) + series_.capacity() * sizeof(Series) +
           index_.capacity() * (sizeof(std::pair<uint32_t, uint32_t>) + 1);
  }

 private:
  struct Series {
    uint32_t key;
    uint32_t next;  // ring position of the next write
    uint32_t size;  // entries kept, <= per_series_
  };

  const uint32_t max_series_;
  const uint32_t per_series_;
  absl::flat_hash_map<uint32_t, uint32_t> index_;  // key -> position in series_
  std::vector<Series> series_;
  std::vector<Entry> entries_;  // per_series_ slots per series, in series_ order
  uint64_t overflow_ = 0;
};

}  // namespace propwatch::detail
