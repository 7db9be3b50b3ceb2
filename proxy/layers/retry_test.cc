#include "proxy/layers/retry.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http/http1/fields.h"
#include "proxy/http/message.h"

namespace weft::proxy::layers::retry {
namespace {

using http::Failure;
using On = router::RetryPolicy::On;

router::RetryPolicy policy(std::uint16_t on, std::vector<unsigned> codes = {}) {
  router::RetryPolicy p;
  p.attempts = 3;
  p.on = on;
  p.status_codes = std::move(codes);
  return p;
}

struct ReasonCase {
  const char* name;
  router::RetryPolicy policy;
  Outcome outcome;
  bool idempotent;
  const char* reason;  // null: not retried
};

class RetryReasonTest : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(RetryReasonTest, Decides) {
  const auto& c = GetParam();
  auto reason = retry_reason(c.policy, c.outcome, c.idempotent);
  if (c.reason == nullptr) {
    EXPECT_FALSE(reason) << *reason;
  } else {
    ASSERT_TRUE(reason);
    EXPECT_EQ(*reason, c.reason);
  }
}

Outcome failed(Failure f) { return {f, false, 0, std::nullopt, std::nullopt}; }
Outcome refused() { return {Failure::kReset, true, 0, std::nullopt, std::nullopt}; }
Outcome status(unsigned s) { return {Failure::kNone, false, s, std::nullopt, std::nullopt}; }
Outcome grpc(unsigned code) { return {Failure::kNone, false, 200, code, std::nullopt}; }

INSTANTIATE_TEST_SUITE_P(
    Conditions, RetryReasonTest,
    ::testing::Values(
        ReasonCase{"connect_failure_any_method", policy(On::kConnectFailure),
                   failed(Failure::kConnectFailure), false, "upstream_connect_failure"},
        ReasonCase{"connect_timeout_under_5xx", policy(On::k5xx), failed(Failure::kConnectTimeout),
                   false, "upstream_connect_timeout"},
        ReasonCase{"connect_failure_not_asked", policy(On::kGatewayError),
                   failed(Failure::kConnectFailure), true, nullptr},
        ReasonCase{"refused_stream_any_method", policy(On::kRefusedStream), refused(), false,
                   "refused_stream"},
        ReasonCase{"refused_not_asked", policy(On::kReset), refused(), true, nullptr},
        ReasonCase{"reset_idempotent", policy(On::kReset), failed(Failure::kReset), true,
                   "upstream_reset"},
        ReasonCase{"reset_post_not_retried", policy(On::kReset), failed(Failure::kReset), false,
                   nullptr},
        ReasonCase{"protocol_error_under_5xx", policy(On::k5xx), failed(Failure::kProtocolError),
                   true, "upstream_protocol_error"},
        ReasonCase{"per_try_timeout_under_gateway_error", policy(On::kGatewayError),
                   failed(Failure::kPerTryTimeout), true, "per_try_timeout"},
        ReasonCase{"per_try_timeout_under_5xx", policy(On::k5xx), failed(Failure::kPerTryTimeout),
                   true, "per_try_timeout"},
        ReasonCase{"per_try_timeout_not_under_reset", policy(On::kReset),
                   failed(Failure::kPerTryTimeout), true, nullptr},
        ReasonCase{"request_timeout_is_final", policy(0x3ff), failed(Failure::kRequestTimeout),
                   true, nullptr},
        ReasonCase{"no_healthy_upstream_is_final", policy(0x3ff),
                   failed(Failure::kNoHealthyUpstream), true, nullptr},
        ReasonCase{"503_under_5xx", policy(On::k5xx), status(503), true, "status_503"},
        ReasonCase{"500_under_5xx", policy(On::k5xx), status(500), true, "status_500"},
        ReasonCase{"500_not_a_gateway_error", policy(On::kGatewayError), status(500), true,
                   nullptr},
        ReasonCase{"504_gateway_error", policy(On::kGatewayError), status(504), true, "status_504"},
        ReasonCase{"503_post_retried_when_asked", policy(On::k5xx), status(503), false,
                   "status_503"},
        ReasonCase{"per_try_timeout_post_not_retried", policy(On::k5xx),
                   failed(Failure::kPerTryTimeout), false, nullptr},
        ReasonCase{"grpc_call_is_a_post", policy(On::kGrpcUnavailable), grpc(14), false,
                   "grpc_unavailable"},
        ReasonCase{"409_listed", policy(On::kRetriableStatusCodes, {409}), status(409), true,
                   "status_409"},
        ReasonCase{"409_not_listed", policy(On::kRetriableStatusCodes, {503}), status(409), true,
                   nullptr},
        ReasonCase{"200_when_listed", policy(0x3ff, {200}), status(200), true, "status_200"},
        ReasonCase{"grpc_unavailable", policy(On::kGrpcUnavailable), grpc(14), true,
                   "grpc_unavailable"},
        ReasonCase{"grpc_cancelled_not_asked", policy(On::kGrpcUnavailable), grpc(1), true,
                   nullptr},
        ReasonCase{"grpc_resource_exhausted", policy(On::kGrpcResourceExhausted), grpc(8), true,
                   "grpc_resource_exhausted"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Backoff, FullJitterUnderAnExponentialCeiling) {
  auto p = policy(On::k5xx);
  p.base_interval = milliseconds(25);
  p.max_interval = milliseconds(250);
  struct Case {
    unsigned retry;
    std::uint64_t random;
    milliseconds expected;
  } cases[] = {
      {1, 0, milliseconds(0)},     {1, 25, milliseconds(25)},   {1, 26, milliseconds(0)},
      {2, 50, milliseconds(50)},   {3, 100, milliseconds(100)}, {4, 200, milliseconds(200)},
      {5, 250, milliseconds(250)}, {9, 250, milliseconds(250)}, {30, 251, milliseconds(0)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(backoff(p, c.retry, std::nullopt, c.random), c.expected)
        << "retry " << c.retry << " random " << c.random;
  }
  EXPECT_EQ(backoff(p, 1, milliseconds(100), 7), milliseconds(100)) << "retry-after honoured";
  EXPECT_EQ(backoff(p, 1, milliseconds(5000), 7), milliseconds(250)) << "capped";
}

TEST(RetryAfter, DelaySecondsOnly) {
  EXPECT_EQ(parse_retry_after("2"), milliseconds(2000));
  EXPECT_EQ(parse_retry_after("0"), milliseconds(0));
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("-1"));
  EXPECT_FALSE(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"));
}

// An answer as the retry layer reads it, the same from either codec's fields.
TEST(Answer, StatusRetryAfterAndTrailersOnlyGrpcStatus) {
  const auto now = Clock::time_point(std::chrono::seconds(100));
  auto p = policy(On::kGatewayError | On::kGrpcUnavailable);
  Budget budget(100, 100);
  struct Case {
    const char* name;
    unsigned status;
    std::vector<std::pair<std::string, std::string>> fields;
    bool grpc;
    bool held;
    std::optional<milliseconds> retry_after;  // when held
    std::optional<unsigned> grpc_status;      // when held
  } cases[] = {
      {"ok", 200, {}, false, false, std::nullopt, std::nullopt},
      {"unavailable", 503, {}, false, true, std::nullopt, std::nullopt},
      {"retry_after", 503, {{"Retry-After", "3"}}, false, true, milliseconds(3000), std::nullopt},
      {"retry_after_date",
       503,
       {{"retry-after", "Fri, 31 Dec 1999"}},
       false,
       true,
       std::nullopt,
       std::nullopt},
      {"ok_with_retry_after",
       200,
       {{"retry-after", "3"}},
       false,
       false,
       std::nullopt,
       std::nullopt},
      {"grpc_unavailable", 200, {{"grpc-status", "14"}}, true, true, std::nullopt, 14},
      {"grpc_unavailable_retry_after",
       200,
       {{"grpc-status", "14"}, {"retry-after", "1"}},
       true,
       true,
       milliseconds(1000),
       14},
      {"grpc_status_not_grpc",
       200,
       {{"grpc-status", "14"}},
       false,
       false,
       std::nullopt,
       std::nullopt},
      {"grpc_not_found", 200, {{"grpc-status", "5"}}, true, false, std::nullopt, std::nullopt},
      {"grpc_head_not_trailers_only", 200, {}, true, false, std::nullopt, std::nullopt},
  };
  for (const auto& c : cases) {
    http::FieldList h2;
    http::http1::ResponseHead h1;
    for (const auto& [name, value] : c.fields) {
      h2.add(name, value);
      h1.insert(name, value);
    }
    Tries from_h2(p, budget, true);
    Tries from_h1(p, budget, true);
    EXPECT_EQ(from_h2.hold_answer(c.status, h2, c.grpc, true, now), c.held) << c.name;
    EXPECT_EQ(from_h1.hold_answer(c.status, h1, c.grpc, true, now), c.held) << c.name;
    if (!c.held) continue;
    for (const auto* tries : {&from_h2, &from_h1}) {
      EXPECT_EQ(tries->held_outcome().status, c.status) << c.name;
      EXPECT_EQ(tries->held_outcome().retry_after, c.retry_after) << c.name;
      EXPECT_EQ(tries->held_outcome().grpc_status, c.grpc_status) << c.name;
    }
  }
}

// grpc-status as gRPC reads it: an unreadable or unknown code is UNKNOWN.
TEST(Answer, UnreadableGrpcStatusIsUnknown) {
  struct Case {
    const char* text;
    unsigned code;
  } cases[] = {{"0", 0},  {"14", 14}, {"16", 16}, {"17", 2}, {"99", 2},
               {"x1", 2}, {"1x", 2},  {"", 2},    {"-1", 2}};
  for (const auto& c : cases) {
    EXPECT_EQ(answer(200, std::nullopt, c.text).grpc_status, c.code) << '"' << c.text << '"';
  }
  EXPECT_EQ(answer(200, std::nullopt, std::nullopt).grpc_status, std::nullopt);
  EXPECT_EQ(answer(503, "2", std::nullopt).retry_after, milliseconds(2000));
}

TEST(Answer, OnlyWhenAnotherTryIsPossible) {
  const auto now = Clock::time_point(std::chrono::seconds(100));
  auto p = policy(On::kGrpcUnavailable);
  p.attempts = 2;
  Budget budget(100, 10);
  Tries tries(p, budget, false);
  http::FieldList fields;
  fields.add("grpc-status", "14");
  EXPECT_FALSE(tries.hold_answer(200, fields, false, true, now)) << "not a gRPC call";
  ASSERT_TRUE(tries.hold_answer(200, fields, true, true, now));
  EXPECT_EQ(tries.held_outcome().grpc_status, 14u);
  tries.next(now, 0);
  EXPECT_FALSE(tries.hold_answer(200, fields, true, true, now)) << "the last try is final";
}

TEST(Idempotent, MethodsOfRfc9110) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(is_idempotent(m)) << m;
  }
  for (const char* m : {"POST", "PATCH", "CONNECT", "get"}) EXPECT_FALSE(is_idempotent(m)) << m;
}

TEST(Budget, AShareOfRequestsPlusAMinimumRate) {
  const auto start = Clock::time_point(std::chrono::seconds(1000));
  Budget budget(20, 1);  // 20% plus 1 a second: 10 over the window
  for (int i = 0; i < 100; ++i) budget.on_request(start);
  int allowed = 0;
  while (budget.try_retry(start)) ++allowed;
  EXPECT_EQ(allowed, 30);  // 20 + 10
  EXPECT_FALSE(budget.can_retry(start + std::chrono::seconds(5)));
  // Ten seconds on, the window has moved past them.
  EXPECT_TRUE(budget.can_retry(start + std::chrono::seconds(10)));
}

TEST(Budget, ATotalOutageIsNotAmplified) {
  const auto start = Clock::time_point(std::chrono::seconds(5000));
  Budget budget(20, 0);
  int upstream = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto now = start + std::chrono::milliseconds(i * 10);
    budget.on_request(now);
    ++upstream;
    for (int retry = 1; retry < 3 && budget.try_retry(now); ++retry) ++upstream;
  }
  EXPECT_LE(upstream, 1000 * 1.2 + 1);
  EXPECT_GE(upstream, 1000 * 1.15);
}

}  // namespace
}  // namespace weft::proxy::layers::retry

namespace weft::proxy::layers::retry {
namespace {

// A request through three tries: held outcomes move it on, the last try's
// outcome is final whatever it is, and a spent budget ends it early.
TEST(Tries, HoldsRetryableOutcomesUntilTheLastTryOrTheBudget) {
  const auto now = Clock::time_point(std::chrono::seconds(100));
  auto p = policy(On::kGatewayError);
  Budget budget(20, 10);
  for (int i = 0; i < 10; ++i) budget.on_request(now);
  Tries tries(p, budget, true);
  EXPECT_EQ(tries.attempt(), 1u);
  EXPECT_FALSE(tries.hold(status(200), true, now));
  EXPECT_FALSE(tries.hold(status(503), false, now)) << "the body was sent: cannot replay";
  EXPECT_TRUE(tries.body_too_large());
  ASSERT_TRUE(tries.hold(status(503), true, now));
  EXPECT_EQ(tries.reason(), "status_503");
  EXPECT_LE(tries.next(now, 12345), milliseconds(25));
  EXPECT_EQ(tries.attempt(), 2u);
  Outcome later = status(503);
  later.retry_after = milliseconds(0);
  ASSERT_TRUE(tries.hold(later, true, now));
  EXPECT_EQ(tries.next(now, 999), milliseconds(0)) << "retry-after: 0";
  EXPECT_EQ(tries.attempt(), 3u);
  EXPECT_TRUE(tries.last());
  EXPECT_FALSE(tries.hold(status(503), true, now)) << "the last try is final";
  EXPECT_FALSE(tries.budget_exhausted());

  Tries plain(p, budget, true);
  EXPECT_FALSE(plain.hold(status(200), false, now));
  EXPECT_FALSE(plain.body_too_large()) << "no retry was wanted";

  Budget spent(0, 0);
  Tries refused(p, spent, true);
  EXPECT_FALSE(refused.hold(status(503), true, now));
  EXPECT_TRUE(refused.budget_exhausted());
  router::RetryPolicy none;
  Tries single(none, budget, true);
  EXPECT_TRUE(single.last());
  EXPECT_FALSE(single.hold(status(503), true, now));
}

// The step after an attempt, as every HTTP version pair asks it.
TEST(Tries, TheStepAfterAnAttempt) {
  const auto now = Clock::time_point(std::chrono::seconds(100));
  const auto p = policy(On::kGatewayError | On::kReset);
  Outcome reset;
  reset.failure = http::Failure::kReset;
  struct Case {
    std::string name;
    AttemptEnd end;
    bool body_replayable;
    double budget_percent;  // of the 10 requests counted, with no minimum rate
    Step::Action action;
    http::Failure reply;
    bool budget_exhausted;
  };
  using A = Step::Action;
  const Case cases[] = {
      {"answered", {true, false, {}}, true, 20, A::kDone, http::Failure::kNone, false},
      {"a listed status, tries left",
       {false, false, status(503)},
       true,
       20,
       A::kRetry,
       http::Failure::kNone,
       false},
      {"already held by the attempt",
       {false, true, status(503)},
       true,
       20,
       A::kRetry,
       http::Failure::kNone,
       false},
      {"a reset", {false, false, reset}, true, 20, A::kRetry, http::Failure::kNone, false},
      {"a reset, the body gone",
       {false, false, reset},
       false,
       20,
       A::kReply,
       http::Failure::kReset,
       false},
      {"a reset, the budget spent",
       {false, false, reset},
       true,
       0,
       A::kReply,
       http::Failure::kReset,
       true},
  };
  for (const auto& c : cases) {
    Budget budget(c.budget_percent, 0);
    for (int i = 0; i < 10; ++i) budget.on_request(now);
    Tries tries(p, budget, true);
    FastRandom random(7);
    const auto step = tries.after(c.end, c.body_replayable, now, random);
    EXPECT_EQ(step.action, c.action) << c.name;
    EXPECT_EQ(step.reply, c.reply) << c.name;
    EXPECT_EQ(step.budget_exhausted, c.budget_exhausted) << c.name;
    if (c.action == A::kRetry) {
      EXPECT_EQ(tries.attempt(), 2u) << c.name << ": the retry is under way";
      EXPECT_LE(step.wait, milliseconds(25)) << c.name;
    } else {
      EXPECT_EQ(tries.attempt(), 1u) << c.name;
    }
  }
}

// maxRetries: a retry holds a place from the decision until its attempt
// ends; another request's retry past the limit is not made (the answer
// before it stands), and the place frees for the next.
TEST(Tries, RetriesInFlightStayUnderTheCircuitBreaker) {
  const auto now = Clock::time_point(std::chrono::seconds(100));
  const auto p = policy(On::kGatewayError);
  Budget budget(100, 100);
  circuit_breaker::Gate retries;
  FastRandom random(7);
  Tries first(p, budget, true, {&retries, 1});
  Tries second(p, budget, true, {&retries, 1});
  const AttemptEnd failed{false, false, status(503)};
  EXPECT_EQ(first.after(failed, true, now, random).action, Step::Action::kRetry);
  EXPECT_EQ(retries.active(), 1u);
  EXPECT_EQ(second.after(failed, true, now, random).action, Step::Action::kReply);
  EXPECT_TRUE(second.retry_overflow());
  EXPECT_FALSE(second.budget_exhausted());
  // The first request's retry fails again and is retried: its own place
  // is reused, not counted twice.
  EXPECT_EQ(first.after(failed, true, now, random).action, Step::Action::kRetry);
  EXPECT_EQ(retries.active(), 1u);
  EXPECT_EQ(first.after({true, false, {}}, true, now, random).action, Step::Action::kDone);
  EXPECT_EQ(retries.active(), 0u);
  Tries third(p, budget, true, {&retries, 1});
  EXPECT_EQ(third.after(failed, true, now, random).action, Step::Action::kRetry);
}

TEST(CircuitBreaker, AdmitsUnderTheLimitOrWithoutOne) {
  struct Case {
    std::uint32_t in_flight, max;
    bool admitted;
  } cases[] = {{0, 0, true}, {1000, 0, true}, {0, 1, true}, {1, 1, false},
               {4, 5, true}, {5, 5, false},   {6, 5, false}};
  for (const auto& c : cases) {
    EXPECT_EQ(circuit_breaker::admits(c.in_flight, c.max), c.admitted)
        << c.in_flight << " of " << c.max;
  }
  circuit_breaker::Gate gate;
  auto a = circuit_breaker::enter(gate, 2);
  auto b = circuit_breaker::enter(gate, 2);
  auto c = circuit_breaker::enter(gate, 2);
  EXPECT_TRUE(a && b);
  EXPECT_FALSE(c);
  EXPECT_EQ(gate.active(), 2u);
  b = std::move(a);
  EXPECT_EQ(gate.active(), 1u) << "a ticket replaced leaves the gate";
  b.release();
  EXPECT_EQ(gate.active(), 0u);
}

TEST(Tries, AnAnswerAfterARefusedRetrySaysSo) {
  // The budget refused a retry of the 503, the 503 went to the client: the
  // log says retry_budget_exhausted.
  const auto now = Clock::time_point(std::chrono::seconds(100));
  const auto p = policy(On::kGatewayError);
  Budget spent(0, 0);
  Tries tries(p, spent, true);
  FastRandom random(7);
  EXPECT_FALSE(tries.hold(status(503), true, now));
  const auto step = tries.after({true, false, {}}, true, now, random);
  EXPECT_EQ(step.action, Step::Action::kDone);
  EXPECT_TRUE(step.budget_exhausted);
}

}  // namespace
}  // namespace weft::proxy::layers::retry
