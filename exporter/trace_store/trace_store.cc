#include "exporter/trace_store/trace_store.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

namespace propwatch::tap {

TraceStore::TraceStore(const Options& options)
    : options_(options),
      max_per_stripe_(options.max_traces == 0
                          ? 0
                          : std::max<uint32_t>(1, (options.max_traces + kStripes - 1) / kStripes)),
      stripes_(std::make_unique<Stripe[]>(kStripes)) {}

size_t TraceStore::StripeIndex(const TraceId& id) {
  return (id.High64() ^ id.Low64()) % kStripes;
}

TraceStore::Stripe& TraceStore::StripeFor(const TraceId& id) const {
  return stripes_[StripeIndex(id)];
}

namespace {

// A reused slot keeps its buffers up to these sizes (a usual trace's); larger
// ones are given back so one huge trace does not pin memory in its slot.
constexpr size_t kMaxRetainedSpans = 64;
constexpr size_t kMaxRetainedTextBytes = 4096;
// How many earlier spans of the trace are checked for the same service, so a
// service's bytes are usually stored once per trace.
constexpr size_t kServiceLookBack = 4;

std::string_view View(const std::string& text, uint32_t offset, uint32_t size) {
  return std::string_view(text).substr(offset, size);
}

}  // namespace

TraceStore::Slot& TraceStore::NewSlot(Stripe& stripe, const TraceId& id) {
  uint32_t index;
  if (stripe.slots.size() < max_per_stripe_) {
    index = static_cast<uint32_t>(stripe.slots.size());
    stripe.slots.emplace_back();
  } else {
    index = stripe.next;
    stripe.next = (stripe.next + 1) % max_per_stripe_;
    Slot& oldest = stripe.slots[index];
    stripe.index.erase(oldest.trace_id);
    ++stripe.evicted_capacity;
    if (oldest.spans.capacity() > kMaxRetainedSpans) {
      std::vector<CompactSpan>().swap(oldest.spans);
    } else {
      oldest.spans.clear();
    }
    if (oldest.text.capacity() > kMaxRetainedTextBytes) {
      std::string().swap(oldest.text);
    } else {
      oldest.text.clear();
    }
    oldest.truncated = false;
  }
  Slot& slot = stripe.slots[index];
  slot.trace_id = id;
  stripe.index.emplace(id, index);
  return slot;
}

void TraceStore::Append(Stripe& stripe, Slot& slot, const SpanRecord& r) {
  const std::string_view service = r.service_name.empty() ? kUnknownService : r.service_name;
  // Offsets are 32-bit: a trace whose text would pass 4 GiB keeps what it has.
  if (slot.spans.size() >= options_.max_spans_per_trace ||
      slot.text.size() + service.size() + r.name.size() > UINT32_MAX) {
    slot.truncated = true;
    ++stripe.dropped_span_cap;
    return;
  }
  CompactSpan& s = slot.spans.emplace_back();
  s.span_id = r.span_id;
  s.parent_span_id = r.parent_span_id;
  s.start_unix_nano = r.start_unix_nano;
  s.end_unix_nano = r.end_unix_nano;
  s.link_count = static_cast<uint32_t>(r.links.size());
  s.kind = r.kind;
  s.status = r.status;
  s.service_size = static_cast<uint32_t>(service.size());
  s.service_offset = static_cast<uint32_t>(slot.text.size());
  const size_t earlier = slot.spans.size() - 1;
  for (size_t i = earlier; i > 0 && i + kServiceLookBack > earlier; --i) {
    const CompactSpan& prior = slot.spans[i - 1];
    if (View(slot.text, prior.service_offset, prior.service_size) == service) {
      s.service_offset = prior.service_offset;
      break;
    }
  }
  if (s.service_offset == slot.text.size()) slot.text.append(service);
  s.name_offset = static_cast<uint32_t>(slot.text.size());
  s.name_size = static_cast<uint32_t>(r.name.size());
  slot.text.append(r.name);
}

void TraceStore::OnSpans(std::span<const SpanRecord> spans) {
  if (max_per_stripe_ == 0 || spans.empty()) return;
  // One lock per stripe per call, not per span: the spans are visited stripe
  // by stripe (a counting sort of their indices), each stripe's in arrival
  // order, so a trace's spans keep their order.
  thread_local std::vector<uint32_t> order;
  std::array<uint32_t, kStripes + 1> begin{};
  for (const SpanRecord& r : spans) ++begin[StripeIndex(r.trace_id) + 1];
  for (size_t i = 1; i <= kStripes; ++i) begin[i] += begin[i - 1];
  order.resize(spans.size());
  std::array<uint32_t, kStripes> fill;
  std::copy(begin.begin(), begin.end() - 1, fill.begin());
  for (uint32_t i = 0; i < spans.size(); ++i) order[fill[StripeIndex(spans[i].trace_id)]++] = i;
  for (size_t stripe_index = 0; stripe_index < kStripes; ++stripe_index) {
    if (begin[stripe_index] == begin[stripe_index + 1]) continue;
    Stripe& stripe = stripes_[stripe_index];
    absl::MutexLock lock(&stripe.mu);
    for (uint32_t k = begin[stripe_index]; k < begin[stripe_index + 1]; ++k) {
      const SpanRecord& r = spans[order[k]];
      auto it = stripe.index.find(r.trace_id);
      Slot& slot =
          it != stripe.index.end() ? stripe.slots[it->second] : NewSlot(stripe, r.trace_id);
      const bool duplicate =
          std::any_of(slot.spans.begin(), slot.spans.end(),
                      [&](const CompactSpan& s) { return s.span_id == r.span_id; });
      if (!duplicate) Append(stripe, slot, r);
    }
  }
  // Give back what a huge request made this thread keep.
  if (order.capacity() > (size_t{1} << 16)) std::vector<uint32_t>().swap(order);
}

std::optional<StoredTrace> TraceStore::Get(const TraceId& id) const {
  Stripe& stripe = StripeFor(id);
  absl::MutexLock lock(&stripe.mu);
  auto it = stripe.index.find(id);
  if (it == stripe.index.end()) return std::nullopt;
  const Slot& slot = stripe.slots[it->second];
  StoredTrace trace{slot.trace_id, {}, slot.truncated};
  trace.spans.reserve(slot.spans.size());
  for (const CompactSpan& c : slot.spans) {
    StoredSpan& s = trace.spans.emplace_back();
    s.span_id = c.span_id;
    s.parent_span_id = c.parent_span_id;
    s.service = View(slot.text, c.service_offset, c.service_size);
    s.name = View(slot.text, c.name_offset, c.name_size);
    s.kind = c.kind;
    s.status = c.status;
    s.start_unix_nano = c.start_unix_nano;
    s.end_unix_nano = c.end_unix_nano;
    s.link_count = c.link_count;
  }
  return trace;
}

std::vector<StoredTraceSummary> TraceStore::List() const {
  std::vector<StoredTraceSummary> out;
  for (size_t i = 0; i < kStripes; ++i) {
    absl::MutexLock lock(&stripes_[i].mu);
    for (const auto& [id, index] : stripes_[i].index) {
      const Slot& slot = stripes_[i].slots[index];
      out.push_back({id, static_cast<uint32_t>(slot.spans.size()), slot.truncated});
    }
  }
  std::sort(out.begin(), out.end(), [](const StoredTraceSummary& a, const StoredTraceSummary& b) {
    return a.trace_id.bytes < b.trace_id.bytes;  // byte order = hex order
  });
  return out;
}

TraceStoreStats TraceStore::Stats() const {
  TraceStoreStats stats;
  for (size_t i = 0; i < kStripes; ++i) {
    absl::MutexLock lock(&stripes_[i].mu);
    stats.traces += stripes_[i].index.size();
    stats.evicted_capacity += stripes_[i].evicted_capacity;
    stats.dropped_span_cap += stripes_[i].dropped_span_cap;
  }
  return stats;
}

}  // namespace propwatch::tap
