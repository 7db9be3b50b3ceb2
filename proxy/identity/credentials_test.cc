// The proxy's acceptance of what the control plane's authority issues
// (built into identity_test, which links both).
#include "proxy/identity/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/ca/workload_certificates.h"

namespace weft::proxy::identity {
namespace {

using std::chrono::hours;
using testing::HasSubstr;

constexpr char kReviews[] = "spiffe://cluster.local/ns/shop/sa/reviews";

cp::ca::SigningAuthority authority(const char* name = "test root") {
  auto root = cp::ca::new_authority(name, hours(24 * 365));
  EXPECT_TRUE(root);
  return {*root, "", root->cert_pem};
}

Signed issue(const cp::ca::SigningAuthority& by, const std::string& csr,
             const std::string& id = kReviews) {
  auto issued = cp::ca::issue_workload(by, csr, id, hours(24), std::chrono::system_clock::now());
  EXPECT_TRUE(issued) << issued.error().message;
  return {issued->chain_pem, by.trust_bundle_pem, id};
}

TEST(Credentials, AcceptsItsOwnCertificate) {
  const auto ca = authority();
  auto request = new_key_and_request();
  ASSERT_TRUE(request);
  auto accepted = accept(request->key_pem, issue(ca, request->csr_pem), {"h2"});
  ASSERT_TRUE(accepted) << accepted.error().message;
  const auto& c = **accepted;
  EXPECT_EQ(c.spiffe_id, kReviews);
  EXPECT_TRUE(c.server && c.client);
  EXPECT_GT(c.not_after - c.not_before, hours(24));
  auto leaf = read_leaf(c.chain_pem);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->uri_names, std::vector<std::string>{kReviews});
}

TEST(Credentials, RefusesWhatIsNotItsOwn) {
  const auto ca = authority();
  const auto stranger = authority("stranger");
  auto request = new_key_and_request();
  auto other = new_key_and_request();
  ASSERT_TRUE(request && other);
  auto good = issue(ca, request->csr_pem);
  struct Case {
    std::string name;
    Signed answer;
    std::string message;
  };
  const Case cases[] = {
      {"another key's certificate", issue(ca, other->csr_pem), "not for this proxy's key"},
      {"another identity than the answer says",
       {good.chain_pem, good.trust_bundle_pem, "spiffe://cluster.local/ns/shop/sa/admin"},
       "does not name exactly"},
      {"an issuer outside the trust bundle",
       {good.chain_pem, stranger.trust_bundle_pem, kReviews},
       "does not chain to the trust bundle"},
      {"no trust bundle", {good.chain_pem, "", kReviews}, "holds no certificate"},
      {"no certificate", {"", good.trust_bundle_pem, kReviews}, "no certificate"},
  };
  for (const auto& c : cases) {
    auto accepted = accept(request->key_pem, c.answer, {});
    ASSERT_FALSE(accepted) << c.name;
    EXPECT_THAT(accepted.error().message, HasSubstr(c.message)) << c.name;
  }
}

}  // namespace
}  // namespace weft::proxy::identity
