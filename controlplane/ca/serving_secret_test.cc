#include "controlplane/ca/serving_secret.h"

#include <gtest/gtest.h>

namespace weft::cp::ca {
namespace {

using std::chrono::hours;
using Clock = std::chrono::system_clock;

const std::vector<std::string> kNames{"mesh-controlplane.mesh-system.svc",
                                      "mesh-controlplane.mesh-system"};

ServingSecret fresh(const RenewalPolicy& policy = {}) {
  auto secret = renew(std::nullopt, {true, true, ""}, kNames, policy);
  EXPECT_TRUE(secret) << secret.error().message;
  return *secret;
}

TEST(Certificates, IssuedServingCertificateChainsToItsAuthority) {
  auto secret = fresh();
  auto info = inspect(secret.serving.cert_pem);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->dns_names, kNames);
  EXPECT_FALSE(info->is_authority);
  auto authority = inspect(secret.authority.cert_pem);
  ASSERT_TRUE(authority);
  EXPECT_TRUE(authority->is_authority);
  EXPECT_TRUE(verifies(secret.serving, secret.authority.cert_pem));
  EXPECT_TRUE(verifies(secret.authority, secret.authority.cert_pem));
  auto other = fresh();
  EXPECT_FALSE(verifies(secret.serving, other.authority.cert_pem));
  EXPECT_FALSE(
      verifies({secret.serving.cert_pem, other.serving.key_pem}, secret.authority.cert_pem));
  auto left = info->not_after - Clock::now();
  EXPECT_GT(left, hours(24 * 364));
  EXPECT_LT(left, hours(24 * 366));
}

struct PlanCase {
  const char* name;
  std::function<std::optional<ServingSecret>(ServingSecret)> current;
  std::vector<std::string> names = kNames;
  hours later{0};
  bool authority = false, serving = false;
};

TEST(Certificates, RenewalIsPlannedFromWhatTheSecretHolds) {
  auto base = fresh();
  auto other = fresh();
  const PlanCase cases[] = {
      {"current", [](auto s) { return s; }},
      {"missing", [](auto) { return std::nullopt; }, kNames, hours(0), true, true},
      {"garbage authority",
       [](auto s) {
         s.authority.cert_pem = "junk";
         return s;
       },
       kNames, hours(0), true, true},
      {"authority key swapped",
       [&](auto s) {
         s.authority.key_pem = other.authority.key_pem;
         return s;
       },
       kNames, hours(0), true, true},
      {"serving from another authority",
       [&](auto s) {
         s.serving = other.serving;
         return s;
       },
       kNames, hours(0), false, true},
      {"names changed", [](auto s) { return s; }, {"other.mesh-system.svc"}, hours(0), false, true},
      {"serving expires within 30 days", [](auto s) { return s; }, kNames, hours(24 * 340), false,
       true},
      {"authority expires within 30 days", [](auto s) { return s; }, kNames, hours(24 * 3640), true,
       true},
  };
  for (const auto& c : cases) {
    auto plan = plan_renewal(c.current(base), c.names, Clock::now() + c.later, RenewalPolicy{});
    EXPECT_EQ(plan.authority, c.authority) << c.name;
    EXPECT_EQ(plan.serving, c.serving) << c.name;
    EXPECT_EQ(plan.reason.empty(), !c.serving) << c.name;
  }
}

TEST(Certificates, RenewingTheServingCertificateKeepsTheAuthority) {
  auto base = fresh();
  auto next = renew(base, {false, true, "names"}, {"x.mesh-system.svc"}, RenewalPolicy{});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->authority.cert_pem, base.authority.cert_pem);
  EXPECT_NE(next->serving.cert_pem, base.serving.cert_pem);
  EXPECT_TRUE(verifies(next->serving, base.authority.cert_pem));
}

}  // namespace
}  // namespace weft::cp::ca
