#include "controlplane/meshctl/stat.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace weft::meshctl::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Stat, ParsesTheExpositionFormat) {
  const auto samples = parse_exposition(
      "# HELP mesh_requests_total Requests\n"
      "# TYPE mesh_requests_total counter\n"
      "mesh_requests_total{reporter=\"source\",path=\"a\\\"b\\\\c\\nd\"} 42\n"
      "mesh_request_duration_milliseconds_bucket{le=\"+Inf\"} 7 1700000000\r\n"
      "process_open_fds 12\n"
      "broken{le=\"1\" 3\n"
      "nan_value NaN\n");
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[0].name, "mesh_requests_total");
  EXPECT_EQ(samples[0].labels.at("path"), "a\"b\\c\nd");
  EXPECT_EQ(samples[0].value, 42);
  EXPECT_EQ(samples[1].labels.at("le"), "+Inf");
  EXPECT_EQ(samples[1].value, 7) << "a timestamp after the value is ignored";
  EXPECT_EQ(samples[2].name, "process_open_fds");
  EXPECT_TRUE(samples[2].labels.empty());
  EXPECT_TRUE(std::isnan(samples[3].value));
}

TEST(Stat, QuantileInterpolatesWithinItsBucketAsPrometheusDoes) {
  const std::vector<std::pair<double, double>> buckets = {
      {1, 10}, {5, 50}, {10, 90}, {50, 100}, {kInf, 100}};
  const struct {
    double q;
    double expected;
  } cases[] = {
      {0.05, 0.5},  // 5 of the first 10, within 0-1
      {0.5, 5},     // the 50th ends the 1-5 bucket
      {0.7, 7.5},   // 20 of the 40 in 5-10
      {0.95, 30},   // 5 of the 10 in 10-50
      {1.0, 50},
  };
  for (const auto& c : cases) {
    auto value = quantile(c.q, buckets);
    ASSERT_TRUE(value) << c.q;
    EXPECT_DOUBLE_EQ(*value, c.expected) << c.q;
  }
  EXPECT_EQ(quantile(0.99, {{1, 0}, {10, 3}, {kInf, 4}}), 10) << "in +Inf: the highest bound";
  EXPECT_FALSE(quantile(0.5, {{1, 0}, {kInf, 0}})) << "nothing counted";
  EXPECT_FALSE(quantile(0.5, {}));
}

std::string series(std::string_view reporter, std::string_view workload, std::string_view code,
                   double count) {
  return fmt::format(
      "mesh_requests_total{{reporter=\"{}\",source_workload=\"client\",destination_workload="
      "\"{}\",destination_namespace=\"default\",destination_service=\"{}.default.svc.cluster."
      "local\",response_code=\"{}\"}} {}\n",
      reporter, workload, workload == "reviews-v1" ? "reviews" : workload, code, count);
}

std::string buckets(std::string_view reporter, std::string_view workload,
                    std::initializer_list<std::pair<std::string_view, double>> counts) {
  std::string out;
  for (const auto& [le, count] : counts) {
    out += fmt::format(
        "istio_request_duration_milliseconds_bucket{{reporter=\"{}\",destination_workload=\"{}\","
        "destination_namespace=\"default\",destination_service=\"{}.default.svc.cluster.local\","
        "le=\"{}\"}} {}\n",
        reporter, workload, workload == "reviews-v1" ? "reviews" : workload, le, count);
  }
  return out;
}

TEST(Stat, WorkloadsFromTheirOwnSidecarsOverTheWindow) {
  const auto before = parse_exposition(
      series("destination", "reviews-v1", "200", 100) +
      series("destination", "reviews-v1", "503", 1) +
      buckets("destination", "reviews-v1", {{"5", 90}, {"10", 101}, {"+Inf", 101}}));
  const auto after = parse_exposition(
      series("destination", "reviews-v1", "200", 190) +
      series("destination", "reviews-v1", "503", 6) +
      series("destination", "reviews-v1", "0", 5) +  // new in the window: all of it counts
      series("source", "ratings", "200", 999) +      // a caller's view: not this kind's
      buckets("destination", "reviews-v1", {{"5", 140}, {"10", 201}, {"+Inf", 201}}));
  auto out = rows(Kind::kWorkload, before, after, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ns, "default");
  EXPECT_EQ(out[0].name, "reviews-v1");
  EXPECT_EQ(out[0].requests, 100);
  EXPECT_EQ(out[0].failed, 10) << "5 answered 503, 5 never answered";
  ASSERT_TRUE(out[0].p50 && out[0].p99);
  EXPECT_DOUBLE_EQ(*out[0].p50, 5) << "50 of 100 within 5 ms";
  EXPECT_DOUBLE_EQ(*out[0].p99, 9.9);
}

TEST(Stat, ServicesFromTheCallersSidecarsFilteredByName) {
  const auto after = parse_exposition(series("source", "reviews-v1", "200", 8) +
                                      series("source", "ratings", "200", 2) +
                                      series("destination", "reviews-v1", "200", 50));
  auto all = rows(Kind::kService, {}, after, {});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "ratings");
  EXPECT_EQ(all[1].name, "reviews");
  EXPECT_EQ(all[1].requests, 8);
  EXPECT_FALSE(all[1].p50) << "no histogram in the text";
  EXPECT_EQ(rows(Kind::kService, {}, after, {.ns = "", .name = "reviews"}).size(), 1u);
  EXPECT_TRUE(rows(Kind::kService, {}, after, {.ns = "other", .name = ""}).empty());
}

TEST(Stat, ACounterThatWentDownIsAProxyThatRestarted) {
  const auto before = parse_exposition(series("destination", "reviews-v1", "200", 500));
  const auto after = parse_exposition(series("destination", "reviews-v1", "200", 20));
  auto out = rows(Kind::kWorkload, before, after, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].requests, 20);
}

TEST(Stat, PrometheusQueriesReadBothNamings) {
  const auto queries = prometheus_queries(Kind::kService, "1m");
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0],
            "sum by (destination_service, response_code) (increase({__name__=~"
            "\"(mesh|istio)_requests_total\", reporter=\"source\"}[1m]))");
  EXPECT_NE(queries[1].find("_request_duration_milliseconds_bucket"), std::string::npos);
  EXPECT_NE(queries[1].find("sum by (destination_service, le)"), std::string::npos);
}

}  // namespace
}  // namespace weft::meshctl::stats
