// The retry layer's loop with a fake path: which attempts run, what is
// marked, rewound, counted and answered, for every way an attempt can end.
#include "proxy/layers/retry_layer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <vector>

namespace weft::proxy::layers::retry {
namespace {

namespace asio = boost::asio;
using http::Failure;
using On = router::RetryPolicy::On;

// How one scripted attempt ends: a response head (held back when the tries
// say so) or a failure before one.
struct Scripted {
  bool head = false;
  Outcome outcome;
};
Scripted answer(unsigned status) { return {true, {Failure::kNone, false, status, {}, {}}}; }
Scripted failure(Failure f) { return {false, {f, false, 0, {}, {}}}; }

class FakePath {
 public:
  FakePath(std::vector<Scripted> script, bool replayable)
      : script_(std::move(script)), replayable_(replayable) {}

  asio::awaitable<AttemptEnd> attempt(Tries& tries) {
    const auto& next = script_.at(attempts_++);
    if (!next.head) co_return AttemptEnd{false, false, next.outcome};
    if (!tries.last() && tries.hold(next.outcome, replayable_, worker::coarse_now())) {
      co_return AttemptEnd{false, true, next.outcome};
    }
    answered_status_ = next.outcome.status;
    co_return AttemptEnd{true, false, {}};
  }
  asio::awaitable<AttemptEnd> only_attempt(Tries& tries) {
    ++only_attempts_;
    auto end = co_await attempt(tries);
    if (!end.answered) {
      co_await reply(end.outcome.failure, false);
      end.answered = true;
    }
    co_return end;
  }
  bool body_replayable() const { return replayable_; }
  void mark_attempt(unsigned attempt) { marks_.push_back(attempt); }
  void rewind() { ++rewinds_; }
  void settled() { settled_ = true; }
  asio::awaitable<void> reply(Failure f, bool exhausted) {
    reply_ = f;
    reply_exhausted_ = exhausted;
    co_return;
  }
  Record& record() { return record_; }

  std::vector<Scripted> script_;
  bool replayable_;
  unsigned attempts_ = 0, only_attempts_ = 0, rewinds_ = 0;
  unsigned answered_status_ = 0;
  std::vector<unsigned> marks_;
  bool settled_ = false;
  Failure reply_ = Failure::kNone;
  bool reply_exhausted_ = false;
  Record record_;
};

struct FakeCounter {
  void count(const Step& step, const Tries& tries) const {
    if (step.action == Step::Action::kRetry) reasons.push_back(tries.reason());
    if (step.action != Step::Action::kRetry && tries.budget_exhausted()) ++exhausted;
    if (step.action != Step::Action::kRetry && tries.body_too_large()) ++too_large;
  }
  mutable std::vector<std::string> reasons;
  mutable int exhausted = 0, too_large = 0;
};

struct LayerCase {
  const char* name;
  std::uint16_t on;          // 0: no retry policy on the route
  double budget_per_second;  // the budget's minimum rate (no share: no requests counted)
  bool replayable;
  std::vector<Scripted> script;
  // Expected:
  unsigned attempts;
  unsigned answered_status;  // 0: a local reply
  Failure reply;
  bool reply_exhausted;
  std::vector<std::string> retry_reasons;
  std::string_view error;  // the record's error when answered
};

class RetryLayerTest : public ::testing::TestWithParam<LayerCase> {};

TEST_P(RetryLayerTest, RunsTheAttempts) {
  const auto& c = GetParam();
  router::RetryPolicy policy;
  if (c.on != 0) {
    policy.attempts = 3;
    policy.on = c.on;
    policy.base_interval = std::chrono::milliseconds(1);
    policy.max_interval = std::chrono::milliseconds(2);
  }
  Budget budget(0, c.budget_per_second);
  Tries tries(policy, budget, true);
  FakePath path(c.script, c.replayable);
  FakeCounter counter;
  FastRandom random(7);
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto end = co_await serve(path, tries, counter, random);
        EXPECT_TRUE(end.answered);
        done = true;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(done);

  EXPECT_EQ(path.attempts_, c.attempts);
  EXPECT_EQ(path.record_.attempts, c.attempts);
  EXPECT_EQ(path.answered_status_, c.answered_status);
  EXPECT_EQ(path.reply_, c.reply);
  EXPECT_EQ(path.reply_exhausted_, c.reply_exhausted);
  EXPECT_EQ(counter.reasons, c.retry_reasons);
  EXPECT_EQ(path.record_.error, c.error);
  if (c.on == 0) {
    // No policy: the layer adds nothing around the only attempt.
    EXPECT_EQ(path.only_attempts_, 1U);
    EXPECT_TRUE(path.marks_.empty());
    EXPECT_FALSE(path.settled_);
  } else {
    EXPECT_EQ(path.only_attempts_, 0U);
    EXPECT_EQ(path.marks_.size(), c.attempts);
    EXPECT_EQ(path.rewinds_, c.attempts - 1);  // before each retry
    EXPECT_TRUE(path.settled_);
  }
}

const auto kBudgetExhausted = reason(Failure::kRetryBudgetExhausted);

INSTANTIATE_TEST_SUITE_P(Attempts, RetryLayerTest,
                         ::testing::Values(LayerCase{"no_policy_failure_answered_once",
                                                     0,
                                                     10,
                                                     true,
                                                     {failure(Failure::kConnectFailure)},
                                                     1,
                                                     0,
                                                     Failure::kConnectFailure,
                                                     false,
                                                     {},
                                                     ""},
                                           LayerCase{"no_policy_503_goes_through",
                                                     0,
                                                     10,
                                                     true,
                                                     {answer(503)},
                                                     1,
                                                     503,
                                                     Failure::kNone,
                                                     false,
                                                     {},
                                                     ""},
                                           LayerCase{"503_twice_then_200",
                                                     On::k5xx,
                                                     10,
                                                     true,
                                                     {answer(503), answer(503), answer(200)},
                                                     3,
                                                     200,
                                                     Failure::kNone,
                                                     false,
                                                     {"status_503", "status_503"},
                                                     ""},
                                           LayerCase{"last_attempt_503_goes_through",
                                                     On::k5xx,
                                                     10,
                                                     true,
                                                     {answer(503), answer(502), answer(503)},
                                                     3,
                                                     503,
                                                     Failure::kNone,
                                                     false,
                                                     {"status_503", "status_502"},
                                                     ""},
                                           LayerCase{"connect_failures_exhaust_attempts",
                                                     On::kConnectFailure,
                                                     10,
                                                     true,
                                                     {failure(Failure::kConnectFailure),
                                                      failure(Failure::kConnectFailure),
                                                      failure(Failure::kConnectFailure)},
                                                     3,
                                                     0,
                                                     Failure::kConnectFailure,
                                                     false,
                                                     {"upstream_connect_failure",
                                                      "upstream_connect_failure"},
                                                     ""},
                                           LayerCase{"condition_not_asked_answered_at_once",
                                                     On::kGatewayError,
                                                     10,
                                                     true,
                                                     {failure(Failure::kConnectFailure)},
                                                     1,
                                                     0,
                                                     Failure::kConnectFailure,
                                                     false,
                                                     {},
                                                     ""},
                                           LayerCase{"spent_budget_failure_says_so",
                                                     On::kReset,
                                                     0,
                                                     true,
                                                     {failure(Failure::kReset)},
                                                     1,
                                                     0,
                                                     Failure::kReset,
                                                     true,
                                                     {},
                                                     ""},
                                           LayerCase{"spent_budget_answer_goes_as_it_was",
                                                     On::k5xx,
                                                     0,
                                                     true,
                                                     {answer(503)},
                                                     1,
                                                     503,
                                                     Failure::kNone,
                                                     false,
                                                     {},
                                                     kBudgetExhausted},
                                           LayerCase{"body_not_kept_not_retried",
                                                     On::kReset,
                                                     10,
                                                     false,
                                                     {failure(Failure::kReset)},
                                                     1,
                                                     0,
                                                     Failure::kReset,
                                                     false,
                                                     {},
                                                     ""}),
                         [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::proxy::layers::retry
