// The iptables-restore input mesh-init applies, as golden files
// (testdata/iptables/), and the parsing of the exclusion lists.
#include "injector/capture_rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/testing/golden.h"

namespace weft::injector {
namespace {

namespace fs = std::filesystem;
using weft::golden::expect_golden;

CaptureRules excluding() {
  CaptureRules rules;
  rules.exclude_inbound_ports = {9000, 8443};
  rules.exclude_outbound_ports = {5432, 6379, 5432};
  rules.exclude_outbound_cidrs = *parse_cidrs("169.254.169.254, 10.0.0.0/8, fd00::/8");
  return rules;
}

TEST(CaptureRules, MatchGoldenFiles) {
  const fs::path dir = "injector/testdata/iptables";
  expect_golden(dir / "default.v4", restore_input(CaptureRules{}, IpFamily::kIpv4));
  expect_golden(dir / "default.v6", restore_input(CaptureRules{}, IpFamily::kIpv6));
  expect_golden(dir / "excluding.v4", restore_input(excluding(), IpFamily::kIpv4));
  expect_golden(dir / "excluding.v6", restore_input(excluding(), IpFamily::kIpv6));
}

TEST(CaptureRules, FamiliesGetOnlyTheirOwnCidrs) {
  auto v4 = restore_input(excluding(), IpFamily::kIpv4);
  auto v6 = restore_input(excluding(), IpFamily::kIpv6);
  EXPECT_NE(v4.find("-d 10.0.0.0/8 -j RETURN"), std::string::npos);
  EXPECT_EQ(v4.find("fd00::/8"), std::string::npos);
  EXPECT_NE(v6.find("-d fd00::/8 -j RETURN"), std::string::npos);
  EXPECT_EQ(v6.find("10.0.0.0/8"), std::string::npos);
  EXPECT_EQ(v6.find("127.0.0.6"), std::string::npos);
}

struct PortsCase {
  const char* text;
  std::vector<std::uint16_t> ports;
  const char* error;
};

TEST(CaptureRules, ParsesPortLists) {
  const PortsCase cases[] = {
      {"", {}, nullptr},
      {"80", {80}, nullptr},
      {" 80 , 443,,8080 ", {80, 443, 8080}, nullptr},
      {"65535", {65535}, nullptr},
      {"65536", {}, "'65536' is not a port (1-65535)"},
      {"0", {}, "'0' is not a port (1-65535)"},
      {"-1", {}, "'-1' is not a port (1-65535)"},
      {"80x", {}, "'80x' is not a port (1-65535)"},
      {"http", {}, "'http' is not a port (1-65535)"},
  };
  for (const auto& c : cases) {
    auto ports = parse_ports(c.text);
    if (c.error == nullptr) {
      ASSERT_TRUE(ports) << c.text;
      EXPECT_EQ(*ports, c.ports) << c.text;
    } else {
      ASSERT_FALSE(ports) << c.text;
      EXPECT_EQ(ports.error().message, c.error);
    }
  }
}

struct CidrCase {
  const char* text;
  const char* normalised;  // null: an error
  IpFamily family = IpFamily::kIpv4;
};

TEST(CaptureRules, ParsesCidrs) {
  const CidrCase cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"10.1.2.3", "10.1.2.3/32"},
      {"fd00::/8", "fd00::/8", IpFamily::kIpv6},
      {"::1", "::1/128", IpFamily::kIpv6},
      {"10.0.0.0/33", nullptr},
      {"fd00::/129", nullptr},
      {"10.0.0.0/", nullptr},
      {"10.0.0/8", nullptr},
      {"host.example", nullptr},
  };
  for (const auto& c : cases) {
    auto cidrs = parse_cidrs(c.text);
    if (c.normalised == nullptr) {
      EXPECT_FALSE(cidrs) << c.text;
      continue;
    }
    ASSERT_TRUE(cidrs) << c.text;
    ASSERT_EQ(cidrs->size(), 1u);
    EXPECT_EQ(cidrs->front().text, c.normalised);
    EXPECT_EQ(cidrs->front().family, c.family);
  }
}

}  // namespace
}  // namespace weft::injector
