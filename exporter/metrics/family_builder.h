// FamilyBuilder: collects samples for the metrics of metric_defs.h into
// prometheus-cpp MetricFamily values, one family per MetricId, in list order.
// Label names come from the definition; callers pass values in that order.
//
// Thread-compatible; one builder per scrape.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/metrics/metric_defs.h"
#include "prometheus/metric_family.h"

namespace propwatch::metrics {

class FamilyBuilder {
 public:
  FamilyBuilder();

  // REQUIRES: the metric is a counter or gauge and `label_values` has one value
  // per label of its definition.
  void Add(MetricId id, std::initializer_list<std::string_view> label_values, double value);

  // REQUIRES: the metric is a histogram. `bounds` are upper bounds (without
  // +Inf) and `cumulative` has bounds.size() + 1 entries, the last being the
  // total count.
  void AddHistogram(MetricId id, std::initializer_list<std::string_view> label_values,
                    const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                    double sum);

  // Families that received at least one sample, in MetricId order.
  std::vector<prometheus::MetricFamily> Take();

 private:
  prometheus::ClientMetric& NewSample(MetricId id,
                                      std::initializer_list<std::string_view> label_values);
  std::vector<prometheus::MetricFamily> families_;
};

// `value` with every byte that is not part of valid UTF-8 replaced by U+FFFD
// (Prometheus label values must be UTF-8; service names arrive unvalidated).
std::string SanitizeLabelValue(std::string_view value);

}  // namespace propwatch::metrics
