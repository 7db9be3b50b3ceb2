#include "common/subprocess.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::subprocess {
namespace {

using std::chrono::milliseconds;

constexpr Limits kRoomy{std::size_t{1} << 20, std::size_t{1} << 20, milliseconds(10'000)};

Result<Outcome> run_script(const std::string& script, const Limits& limits) {
  const std::vector<std::string> argv{"/bin/sh", "-c", script};
  return run(argv, limits);
}

struct Finished {
  std::string name;
  std::string script;  // run by /bin/sh -c
  Limits limits;
  int exit_code;
  std::string output, errors;
};

class RunFinishes : public testing::TestWithParam<Finished> {};

TEST_P(RunFinishes, CollectsBothStreamsAndTheExitCode) {
  const auto& c = GetParam();
  auto outcome = run_script(c.script, c.limits);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, c.exit_code);
  EXPECT_EQ(outcome->output, c.output);
  EXPECT_EQ(outcome->errors, c.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RunFinishes,
    testing::Values(Finished{"output", "printf 'a\\0b'", kRoomy, 0, std::string("a\0b", 3), ""},
                    Finished{"exit_code_and_errors", "echo bad >&2; exit 3", kRoomy, 3, "",
                             "bad\n"},
                    Finished{"stdin_is_empty", "cat", kRoomy, 0, "", ""},
                    // Both pipes past their buffers at once: read together or deadlock.
                    Finished{"both_streams_large",
                             "head -c 300000 /dev/zero >&2 & head -c 500000 /dev/zero; wait",
                             kRoomy, 0, std::string(500'000, '\0'), std::string(300'000, '\0')},
                    Finished{"errors_are_cut",
                             "printf 0123456789 >&2",
                             {1024, 4, milliseconds(10'000)},
                             0,
                             "",
                             "0123"}),
    [](const testing::TestParamInfo<Finished>& param) { return param.param.name; });

struct Failed {
  std::string name;
  std::string script;
  Limits limits;
  ErrorCode code;
  std::string mentions;
};

class RunFails : public testing::TestWithParam<Failed> {};

TEST_P(RunFails, SaysWhy) {
  const auto& c = GetParam();
  auto outcome = run_script(c.script, c.limits);
  ASSERT_FALSE(outcome) << "exit " << outcome->exit_code;
  EXPECT_EQ(outcome.error().code, c.code);
  EXPECT_NE(outcome.error().message.find(c.mentions), std::string::npos) << outcome.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RunFails,
    testing::Values(Failed{"output_over_limit", "head -c 5000 /dev/zero",
                           Limits{4096, 1024, milliseconds(10'000)}, ErrorCode::kInvalidArgument,
                           "more than 4096 bytes"},
                    Failed{"killed_by_signal", "kill -SEGV $$", kRoomy, ErrorCode::kInternal,
                           "signal 11"},
                    // The child is killed, so the test does not wait the 30 s out.
                    Failed{"timeout_kills", "sleep 30", Limits{1024, 1024, milliseconds(200)},
                           ErrorCode::kTimeout, "200 ms"}),
    [](const testing::TestParamInfo<Failed>& param) { return param.param.name; });

TEST(Run, MissingProgramIsAnError) {
  const std::vector<std::string> argv{"/nonexistent/program"};
  auto outcome = run(argv);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kIo);
  EXPECT_NE(outcome.error().message.find("/nonexistent/program"), std::string::npos);
}

}  // namespace
}  // namespace weft::subprocess
