#include "proxy/layers/timeout.h"

#include <gtest/gtest.h>

#include "proxy/http/http1/fields.h"
#include "proxy/http/message.h"

namespace weft::proxy::layers::timeout {
namespace {

using http::Failure;
using std::chrono::milliseconds;
constexpr auto kReceived = Clock::time_point(std::chrono::seconds(1000));
constexpr milliseconds kListenerIdle(300'000);

struct Case {
  const char* name;
  router::Timeouts route;
  std::optional<milliseconds> grpc_timeout;
  milliseconds attempt_starts;  // after the request was received
  // The attempt's deadline (after the request was received) and its failure.
  std::optional<milliseconds> deadline;
  Failure failure;
  milliseconds idle;
};

class DeadlinesTest : public ::testing::TestWithParam<Case> {};

TEST_P(DeadlinesTest, AttemptDeadline) {
  const auto& c = GetParam();
  const Deadlines deadlines(c.route, c.grpc_timeout, kListenerIdle, kReceived);
  const auto limit = deadlines.attempt(kReceived + c.attempt_starts);
  if (c.deadline) {
    EXPECT_EQ(limit.when, kReceived + *c.deadline);
  } else {
    EXPECT_TRUE(limit.never());
  }
  EXPECT_EQ(limit.failure, c.failure);
  EXPECT_EQ(deadlines.idle(), c.idle);
}

const milliseconds kNone(0);
INSTANTIATE_TEST_SUITE_P(
    Timeouts, DeadlinesTest,
    ::testing::Values(Case{"nothing configured: no deadline, the listener's idle",
                           {},
                           {},
                           kNone,
                           {},
                           Failure::kNone,
                           kListenerIdle},
                      Case{"request only",
                           {milliseconds(2000)},
                           {},
                           milliseconds(500),
                           milliseconds(2000),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"per-try only, counted from the attempt's start",
                           {{}, milliseconds(300)},
                           {},
                           milliseconds(500),
                           milliseconds(800),
                           Failure::kPerTryTimeout,
                           kListenerIdle},
                      Case{"per-try ends first",
                           {milliseconds(2000), milliseconds(300)},
                           {},
                           milliseconds(100),
                           milliseconds(400),
                           Failure::kPerTryTimeout,
                           kListenerIdle},
                      Case{"a late attempt: the request's deadline comes first",
                           {milliseconds(2000), milliseconds(300)},
                           {},
                           milliseconds(1800),
                           milliseconds(2000),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"a tie is the request's",
                           {milliseconds(2000), milliseconds(500)},
                           {},
                           milliseconds(1500),
                           milliseconds(2000),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"grpc-timeout shortens the route's",
                           {milliseconds(2000)},
                           milliseconds(700),
                           kNone,
                           milliseconds(700),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"grpc-timeout never lengthens it",
                           {milliseconds(2000)},
                           milliseconds(9000),
                           kNone,
                           milliseconds(2000),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"grpc-timeout alone is the request timeout",
                           {},
                           milliseconds(50),
                           kNone,
                           milliseconds(50),
                           Failure::kRequestTimeout,
                           kListenerIdle},
                      Case{"the route's idle replaces the listener's",
                           {{}, {}, milliseconds(5000)},
                           {},
                           kNone,
                           {},
                           Failure::kNone,
                           milliseconds(5000)}),
    [](const auto& param_info) {
      std::string name = param_info.param.name;
      for (auto& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

struct IdleCase {
  const char* name;
  std::optional<milliseconds> limit;  // after now; none: never
  milliseconds idle;
  milliseconds expected;
  Failure failure;
};

class OrIdleTest : public ::testing::TestWithParam<IdleCase> {};

TEST_P(OrIdleTest, TheEarlierOfTheLimitAndIdleness) {
  const auto& c = GetParam();
  Limit limit;
  if (c.limit) limit = {kReceived + *c.limit, Failure::kPerTryTimeout};
  const auto chosen = limit.or_idle(kReceived, c.idle);
  EXPECT_EQ(chosen.when, kReceived + c.expected);
  EXPECT_EQ(chosen.failure, c.failure);
}

INSTANTIATE_TEST_SUITE_P(
    Limits, OrIdleTest,
    ::testing::Values(
        IdleCase{"never", {}, milliseconds(100), milliseconds(100), Failure::kIdleTimeout},
        IdleCase{"limit first", milliseconds(50), milliseconds(100), milliseconds(50),
                 Failure::kPerTryTimeout},
        IdleCase{"idle first", milliseconds(500), milliseconds(100), milliseconds(100),
                 Failure::kIdleTimeout},
        IdleCase{"tie", milliseconds(100), milliseconds(100), milliseconds(100),
                 Failure::kPerTryTimeout},
        IdleCase{"already passed", milliseconds(-5), milliseconds(100), milliseconds(-5),
                 Failure::kPerTryTimeout}),
    [](const auto& param_info) {
      std::string name = param_info.param.name;
      for (auto& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// grpc-timeout read the same way from either codec's fields.
TEST(GrpcTimeout, ReadFromEitherCodecsFields) {
  struct Case {
    const char* name;
    const char* value;  // nullptr: no field
    bool grpc;
    std::optional<milliseconds> expected;
  } cases[] = {
      {"seconds", "2S", true, milliseconds(2000)},
      {"milliseconds", "250m", true, milliseconds(250)},
      {"not_a_grpc_call", "2S", false, std::nullopt},
      {"absent", nullptr, true, std::nullopt},
      {"unreadable", "soon", true, std::nullopt},
  };
  for (const auto& c : cases) {
    http::FieldList h2;
    http::http1::Fields h1;
    if (c.value != nullptr) {
      h2.add("grpc-timeout", c.value);
      h1.set("grpc-timeout", c.value);
    }
    EXPECT_EQ(grpc_timeout(h2, c.grpc), c.expected) << c.name;
    EXPECT_EQ(grpc_timeout(h1, c.grpc), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace weft::proxy::layers::timeout
