#include "proxy/http/grpc.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::proxy::http::grpc {
namespace {

using std::chrono::milliseconds;

TEST(GrpcTest, RecognisesGrpcContentTypes) {
  EXPECT_TRUE(is_grpc("application/grpc"));
  EXPECT_TRUE(is_grpc("application/grpc+proto"));
  EXPECT_TRUE(is_grpc("application/grpc;charset=utf-8"));
  EXPECT_FALSE(is_grpc("application/grpc-web"));
  EXPECT_FALSE(is_grpc("application/json"));
  EXPECT_FALSE(is_grpc(""));
}

struct TimeoutCase {
  const char* value;
  std::optional<milliseconds> expected;
};

class TimeoutTest : public ::testing::TestWithParam<TimeoutCase> {};

TEST_P(TimeoutTest, Parses) { EXPECT_EQ(parse_timeout(GetParam().value), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    Units, TimeoutTest,
    ::testing::Values(TimeoutCase{"1H", milliseconds(3'600'000)},
                      TimeoutCase{"2M", milliseconds(120'000)},
                      TimeoutCase{"3S", milliseconds(3'000)},
                      TimeoutCase{"250m", milliseconds(250)}, TimeoutCase{"1500u", milliseconds(2)},
                      TimeoutCase{"1n", milliseconds(1)},
                      TimeoutCase{"99999999S", milliseconds(99'999'999'000)},
                      TimeoutCase{"123456789S", std::nullopt}, TimeoutCase{"S", std::nullopt},
                      TimeoutCase{"10", std::nullopt}, TimeoutCase{"10s", std::nullopt},
                      TimeoutCase{"-1S", std::nullopt}, TimeoutCase{"1 S", std::nullopt},
                      TimeoutCase{"", std::nullopt}));

struct StatusCase {
  unsigned http_status;
  const char* reason;
  unsigned expected;
};

class StatusTest : public ::testing::TestWithParam<StatusCase> {};

TEST_P(StatusTest, MapsLocalReplies) {
  EXPECT_EQ(status_for(GetParam().http_status, GetParam().reason), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(LocalReplies, StatusTest,
                         ::testing::Values(StatusCase{503, "upstream_connect_failure", 14},
                                           StatusCase{503, "no_healthy_upstream", 14},
                                           StatusCase{503, "upstream_connect_timeout", 14},
                                           StatusCase{504, "request_timeout", 4},
                                           StatusCase{502, "upstream_reset", 14},
                                           StatusCase{404, "route_not_found", 12},
                                           StatusCase{429, "rate_limited", 8},
                                           StatusCase{418, "teapot", 2}));

TEST(GrpcTest, NamesStatusCodes) {
  EXPECT_EQ(status_name(0), "OK");
  EXPECT_EQ(status_name(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(status_name(14), "UNAVAILABLE");
  EXPECT_EQ(status_name(16), "UNAUTHENTICATED");
  EXPECT_EQ(status_name(99), "UNKNOWN");
}

// How the balancer and outlier detection judge a gRPC answer's head: by
// its trailers-only grpc-status when it has one.
TEST(GrpcTest, JudgesTrailersOnlyAnswersByTheirGrpcStatus) {
  struct Case {
    std::optional<std::string_view> grpc_status;
    unsigned judged;
  };
  for (const auto& c : std::vector<Case>{{std::nullopt, 200},
                                         {"0", 200},
                                         {"14", 503},
                                         {"13", 500},
                                         {"2", 500},
                                         {"4", 504},
                                         {"8", 429},
                                         {"12", 501},
                                         {"5", 404},
                                         {"1", 499},
                                         {"16", 401},
                                         {"17", 500},
                                         {"99", 500},
                                         {"", 200},
                                         {"x", 200},
                                         {"14 ", 200}}) {
    EXPECT_EQ(judged_status(200, c.grpc_status), c.judged) << c.grpc_status.value_or("(none)");
  }
  EXPECT_EQ(judged_status(503, std::nullopt), 503u) << "an HTTP failure stands";
}

}  // namespace
}  // namespace weft::proxy::http::grpc
