#include "exporter/metrics/family_builder.h"

#include "exporter/text/text.h"

#include <limits>
#include <string>

namespace propwatch::metrics {
namespace {

prometheus::MetricType ToPrometheus(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return prometheus::MetricType::Counter;
    case MetricType::kGauge: return prometheus::MetricType::Gauge;
    case MetricType::kHistogram: return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

std::vector<std::string_view> SplitLabels(std::string_view labels) {
  std::vector<std::string_view> out;
  while (!labels.empty()) {
    size_t comma = labels.find(',');
    out.push_back(labels.substr(0, comma));
    if (comma == std::string_view::npos) break;
    labels.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::string SanitizeLabelValue(std::string_view value) {
  // Service names come from the wire unvalidated; Prometheus requires UTF-8.
  return text::ToValidUtf8(value);
}

FamilyBuilder::FamilyBuilder() {
  families_.resize(AllMetrics().size());
  for (const MetricDef& def : AllMetrics()) {
    prometheus::MetricFamily& f = families_[static_cast<size_t>(def.id)];
    f.name = std::string(def.name);
    f.help = std::string(def.help);
    f.type = ToPrometheus(def.type);
  }
}

prometheus::ClientMetric& FamilyBuilder::NewSample(
    MetricId id, std::initializer_list<std::string_view> label_values) {
  const MetricDef& def = Def(id);
  prometheus::MetricFamily& family = families_[static_cast<size_t>(id)];
  prometheus::ClientMetric& sample = family.metric.emplace_back();
  std::vector<std::string_view> names = SplitLabels(def.labels);
  auto value = label_values.begin();
  for (size_t i = 0; i < names.size() && value != label_values.end(); ++i, ++value) {
    sample.label.push_back({std::string(names[i]), SanitizeLabelValue(*value)});
  }
  return sample;
}

void FamilyBuilder::Add(MetricId id, std::initializer_list<std::string_view> label_values,
                        double value) {
  prometheus::ClientMetric& sample = NewSample(id, label_values);
  if (Def(id).type == MetricType::kCounter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
}

void FamilyBuilder::AddHistogram(MetricId id, std::initializer_list<std::string_view> label_values,
                                 const std::vector<double>& bounds,
                                 const std::vector<uint64_t>& cumulative, double sum) {
  prometheus::ClientMetric& sample = NewSample(id, label_values);
  for (size_t i = 0; i < bounds.size(); ++i) {
    sample.histogram.bucket.push_back({cumulative[i], bounds[i]});
  }
  sample.histogram.bucket.push_back(
      {cumulative.back(), std::numeric_limits<double>::infinity()});
  sample.histogram.sample_count = cumulative.back();
  sample.histogram.sample_sum = sum;
}

std::vector<prometheus::MetricFamily> FamilyBuilder::Take() {
  std::vector<prometheus::MetricFamily> out;
  for (prometheus::MetricFamily& f : families_) {
    if (!f.metric.empty()) out.push_back(std::move(f));
  }
  families_.clear();
  return out;
}

}  // namespace propwatch::metrics
