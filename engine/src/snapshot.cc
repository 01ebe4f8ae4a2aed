#include "propwatch/snapshot.h"

#include <algorithm>

namespace propwatch {

std::string_view EdgeBoundaryName(EdgeBoundary boundary) {
  return boundary == EdgeBoundary::kMessaging ? "messaging" : "http";
}
namespace {

template <typename Fn>
void ForEachField(ServiceCounters& a, const ServiceCounters& b, Fn fn) {
  fn(a.spans, b.spans);
  fn(a.root_spans, b.root_spans);
  for (int i = 0; i < kNumSpanKinds; ++i) fn(a.orphan_spans_by_kind[i], b.orphan_spans_by_kind[i]);
  fn(a.linked_roots, b.linked_roots);
  fn(a.broken_parents, b.broken_parents);
  fn(a.unpaired_outbound, b.unpaired_outbound);
  fn(a.late_spans, b.late_spans);
  fn(a.duplicate_spans, b.duplicate_spans);
  fn(a.extraction_failures, b.extraction_failures);
  fn(a.traceparents_valid, b.traceparents_valid);
  for (int i = 0; i < kNumTraceparentErrors; ++i)
    fn(a.invalid_traceparents_by_reason[i], b.invalid_traceparents_by_reason[i]);
  for (int i = 0; i < kNumSpanContextErrors; ++i)
    fn(a.invalid_span_contexts_by_reason[i], b.invalid_span_contexts_by_reason[i]);
}

template <size_t N>
uint64_t Sum(const std::array<uint64_t, N>& values) {
  uint64_t total = 0;
  for (uint64_t v : values) total += v;
  return total;
}

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

uint64_t ServiceCounters::orphan_spans() const { return Sum(orphan_spans_by_kind); }
uint64_t ServiceCounters::invalid_traceparents() const {
  return Sum(invalid_traceparents_by_reason);
}
uint64_t ServiceCounters::invalid_span_contexts() const {
  return Sum(invalid_span_contexts_by_reason);
}

ServiceCounters& ServiceCounters::operator+=(const ServiceCounters& other) {
  ForEachField(*this, other, [](uint64_t& a, uint64_t b) { a += b; });
  return *this;
}

ServiceCounters& ServiceCounters::operator-=(const ServiceCounters& other) {
  ForEachField(*this, other, [](uint64_t& a, uint64_t b) { a -= b; });
  return *this;
}

double ServiceSnapshot::OrphanRate() const { return Ratio(window.orphan_spans(), window.spans); }
double ServiceSnapshot::BrokenParentRate() const {
  return Ratio(window.broken_parents, window.spans);
}

const ServiceSnapshot* Snapshot::Find(std::string_view service) const {
  auto it = std::lower_bound(
      services.begin(), services.end(), service,
      [](const ServiceSnapshot& s, std::string_view name) { return s.service < name; });
  if (it == services.end() || it->service != service) return nullptr;
  return &*it;
}

}  // namespace propwatch
static_assert(sizeof(propwatch::ServiceCounters) == 240, "docs/engine.md quotes this size");
