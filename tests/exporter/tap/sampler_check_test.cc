// sampler-check: the listing parser and the comparison, with cases a sampler
// produces (whole, cut, split, evicted before, truncated). The command against
// real taps is in tap_test.cc.
#include "exporter/tap/sampler_check.h"

#include <sstream>

#include "gtest/gtest.h"

namespace propwatch::tap {
namespace {

std::string Id(int n) {
  std::string id(32, '0');
  id[31] = static_cast<char>('0' + n % 10);
  id[30] = static_cast<char>('0' + n / 10);
  return id;
}

TraceListing Listing(std::vector<std::tuple<int, uint32_t, bool>> entries) {
  TraceListing l;
  for (auto [n, spans, truncated] : entries) l.traces[Id(n)] = {spans, truncated};
  return l;
}

TEST(TraceListingTest, ParsesTheTraceApiListing) {
  auto l = ParseTraceListing(
      "{\"traces\":[\n{\"traceId\":\"" + Id(1) + "\",\"spanCount\":6,\"truncated\":false},\n"
      "{\"traceId\":\"" + Id(2) + "\",\"spanCount\":1000,\"truncated\":true,\"extra\":[1]}]}\n");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->traces.size(), 2u);
  EXPECT_EQ(l->traces[Id(1)].spans, 6u);
  EXPECT_TRUE(l->traces[Id(2)].truncated);
  EXPECT_TRUE(ParseTraceListing("{\"traces\":[]}").ok());
}

TEST(TraceListingTest, RejectsWhatIsNotAListing) {
  EXPECT_FALSE(ParseTraceListing("").ok());
  EXPECT_FALSE(ParseTraceListing("{}").ok());                                  // no traces
  EXPECT_FALSE(ParseTraceListing("{\"traces\":[{\"spanCount\":1}]}").ok());  // no id
  EXPECT_FALSE(ParseTraceListing("{\"traces\":[{\"traceId\":\"" + Id(1) +
                                 "\",\"spanCount\":-1}]}").ok());
  EXPECT_FALSE(ParseTraceListing("{\"traces\":[]} trailing").ok());
}

TEST(CompareListingsTest, EveryKindOfKeptTrace) {
  // Before sampling: 1 whole, 2 cut by the sampler, 3 split over both
  // instances, 4 evicted from the pre store, 5 truncated, 6 dropped.
  const TraceListing pre = Listing({{1, 6, false}, {2, 6, false}, {3, 6, false},
                                    {5, 1000, true}, {6, 6, false}});
  const std::vector<TraceListing> post = {
      Listing({{1, 6, false}, {2, 4, false}, {3, 3, false}}),
      Listing({{3, 3, false}, {4, 6, false}, {5, 1000, true}})};
  const SamplerReport r = CompareListings(pre, post);
  EXPECT_EQ(r.pre_traces, 5u);
  EXPECT_EQ(r.kept_per_instance, (std::vector<uint64_t>{3, 3}));
  EXPECT_EQ(r.kept, 5u);
  EXPECT_EQ(r.whole, 1u);
  ASSERT_EQ(r.missing_spans.size(), 1u);
  EXPECT_EQ(r.missing_spans[0].trace_id, Id(2));
  EXPECT_EQ(r.missing_spans[0].pre_spans, 6u);
  EXPECT_EQ(r.missing_spans[0].post_spans, 4u);
  EXPECT_EQ(r.split, (std::vector<std::string>{Id(3)}));  // 3 + 3 spans: whole, but split
  EXPECT_EQ(r.not_in_pre, 1u);
  EXPECT_EQ(r.truncated, 1u);
  EXPECT_FALSE(r.passed());
}

TEST(CompareListingsTest, AllWholePasses) {
  const TraceListing pre = Listing({{1, 6, false}, {2, 6, false}});
  const std::vector<TraceListing> post = {Listing({{1, 6, false}}), Listing({})};
  const SamplerReport r = CompareListings(pre, post);
  EXPECT_EQ(r.whole, 1u);
  EXPECT_TRUE(r.passed());
}

TEST(CompareListingsTest, NothingComparedDoesNotPass) {
  const TraceListing pre = Listing({{1, 6, false}});
  EXPECT_FALSE(CompareListings(pre, std::vector<TraceListing>{Listing({})}).passed());
  // Kept, but the pre-sampling store no longer holds it: unproven.
  const SamplerReport r = CompareListings(pre, std::vector<TraceListing>{Listing({{1, 6, false}, {2, 6, false}})});
  EXPECT_EQ(r.not_in_pre, 1u);
  EXPECT_FALSE(r.passed());
}

}  // namespace
}  // namespace propwatch::tap
