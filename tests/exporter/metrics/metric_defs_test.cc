// The metric list is the single source: its names follow Prometheus
// conventions and docs/metrics.md carries exactly its rendered table.
#include "exporter/metrics/metric_defs.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "gtest/gtest.h"

namespace propwatch::metrics {
namespace {

TEST(MetricDefsTest, NamesFollowPrometheusConventions) {
  std::set<std::string_view> names;
  // process_* are the standard names every Prometheus exporter serves.
  const std::regex name_re("(propwatch|process)_[a-z0-9_]+");
  const std::regex label_re("[a-z_]+(,[a-z_]+)*");
  for (const MetricDef& m : AllMetrics()) {
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate " << m.name;
    EXPECT_TRUE(std::regex_match(std::string(m.name), name_re)) << m.name;
    const bool total = m.name.ends_with("_total");
    EXPECT_EQ(total, m.type == MetricType::kCounter) << m.name << ": only counters end in _total";
    if (!m.labels.empty()) {
      EXPECT_TRUE(std::regex_match(std::string(m.labels), label_re)) << m.name;
    }
    EXPECT_FALSE(m.help.empty()) << m.name;
    EXPECT_FALSE(m.definition.empty()) << m.name;
  }
}

TEST(MetricDefsTest, DocsTableMatchesTheList) {
  std::ifstream in(PROPWATCH_SOURCE_DIR "/docs/metrics.md");
  ASSERT_TRUE(in) << "docs/metrics.md missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  const std::string begin = "<!-- BEGIN GENERATED: propwatch --print-metrics-doc -->\n";
  const std::string end = "<!-- END GENERATED -->";
  const size_t b = doc.find(begin);
  const size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), RenderMetricsMarkdown())
      << "regenerate with: build/exporter/tap/propwatch --print-metrics-doc";
}

}  // namespace
}  // namespace propwatch::metrics
