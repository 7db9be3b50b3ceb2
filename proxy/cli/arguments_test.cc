#include "proxy/cli/arguments.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::proxy::cli {
namespace {

Result<Arguments> parse(std::vector<const char*> args) { return parse_arguments(args); }

TEST(Arguments, ValuesAfterASpaceOrAnEqualsSign) {
  auto parsed = parse({"--config", "/dev/null", "--concurrency=3", "--log-level", "debug",
                       "--access-log", "--check", "--max-connections", "5000"});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->config_path, "/dev/null");
  EXPECT_EQ(parsed->concurrency, 3U);
  EXPECT_EQ(parsed->max_connections, 5000U);
  EXPECT_EQ(parsed->log_level, "debug");
  EXPECT_TRUE(parsed->access_log);
  EXPECT_TRUE(parsed->check_only);
  EXPECT_FALSE(parsed->wait_ready);
}

TEST(Arguments, WaitReadyDefaultsAndOverrides) {
  auto defaults = parse({"--wait-ready"});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->wait_ready_port, pod_network::kHealthPort);
  EXPECT_EQ(defaults->wait_ready_timeout_seconds, 120U);
  auto set = parse({"--wait-ready", "--wait-ready-port", "9000", "--wait-ready-timeout=5"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->wait_ready_port, 9000);
  EXPECT_EQ(set->wait_ready_timeout_seconds, 5U);
}

TEST(Arguments, ControlplaneKeepaliveDefaultsAndOverrides) {
  auto defaults = parse({"--controlplane", "cp:15010"});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->controlplane_keepalive_seconds, 15U);
  auto set = parse({"--controlplane", "cp:15010", "--controlplane-keepalive=2"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->controlplane_keepalive_seconds, kMinControlplaneKeepaliveSeconds);
}

TEST(Arguments, MistakesAreErrorsThatNameTheFlag) {
  struct Case {
    std::vector<const char*> args;
    std::string_view message;
  };
  const std::vector<Case> cases = {
      {{"--conifg", "x"}, "unknown argument '--conifg'"},
      {{"--config"}, "--config needs a value"},
      {{"--config", "/no/such/file.yaml"}, "--config: no such file"},
      {{"--concurrency", "two"}, "--concurrency: 'two' is not a number"},
      {{"--concurrency", "-1"}, "--concurrency: '-1' is not a number"},
      {{"--max-connections", "lots"}, "--max-connections: 'lots' is not a number"},
      {{"--wait-ready-port", "70000"}, "--wait-ready-port: '70000' is not a number in range"},
      {{"--check=yes"}, "--check takes no value"},
      {{"--controlplane-keepalive", "1"}, "--controlplane-keepalive: at least 2 seconds"},
      {{"--config", "/dev/null", "--controlplane", "cp:15010"}, "exclude each other"},
      {{"positional"}, "unknown argument 'positional'"},
  };
  for (const auto& c : cases) {
    auto parsed = parse(c.args);
    ASSERT_FALSE(parsed) << c.message;
    EXPECT_NE(parsed.error().message.find(c.message), std::string::npos) << parsed.error().message;
  }
}

TEST(Arguments, HelpListsEveryFlag) {
  auto parsed = parse({"-h"});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->help);
  const auto text = usage();
  for (auto flag :
       {"--config", "--controlplane", "--controlplane-keepalive", "--node", "--namespace",
        "--concurrency", "--max-connections", "--log-level", "--log-format", "--access-log",
        "--tap", "--check", "--wait-ready", "--wait-ready-port", "--wait-ready-timeout"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace weft::proxy::cli
