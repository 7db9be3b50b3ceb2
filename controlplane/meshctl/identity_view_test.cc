#include "controlplane/meshctl/identity_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controlplane/ca/workload_certificates.h"

namespace weft::meshctl {
namespace {

using std::chrono::hours;
using testing::HasSubstr;
using Clock = std::chrono::system_clock;

TEST(IdentityText, NamesTheIdentityItsExpiryAndTheChain) {
  auto root = cp::ca::new_authority("weft mesh root", hours(24 * 365));
  ASSERT_TRUE(root);
  auto request = cp::ca::new_request("");
  const auto now = std::chrono::floor<std::chrono::seconds>(Clock::now());  // as certificates
  auto issued = cp::ca::issue_workload({*root, "", root->cert_pem}, request->csr_pem,
                                       "spiffe://cluster.local/ns/shop/sa/reviews", hours(24), now);
  ASSERT_TRUE(issued);
  boost::json::object answer{{"spiffe_id", "spiffe://cluster.local/ns/shop/sa/reviews"},
                             {"chain_pem", issued->chain_pem},
                             {"trust_bundle_pem", root->cert_pem},
                             {"next_renewal", "2026-12-08T10:00:00Z"},
                             {"failures_in_a_row", 0},
                             {"control_plane", "127.0.0.1:15012"}};
  auto text = identity_text("shop/reviews-1", answer, now + hours(1));
  EXPECT_THAT(text, HasSubstr("identity:       spiffe://cluster.local/ns/shop/sa/reviews\n"));
  EXPECT_THAT(text, HasSubstr("(expires in 23h0m)"));
  EXPECT_THAT(text, HasSubstr("next request:   2026-12-08T10:00:00Z"));
  EXPECT_THAT(text, HasSubstr("127.0.0.1:15012 (last request ok)"));
  EXPECT_THAT(text, HasSubstr("chain:\n  spiffe://cluster.local/ns/shop/sa/reviews issued by "
                              "CN=weft mesh root"));
  EXPECT_THAT(text, HasSubstr("trust bundle:\n  CN=weft mesh root issued by CN=weft mesh root"));
  EXPECT_THAT(text, HasSubstr("(authority)"));
}

TEST(IdentityText, SaysWhyThereIsNoneYet) {
  boost::json::object answer{{"spiffe_id", ""},
                             {"failures_in_a_row", 3},
                             {"last_error", "the control plane refused: grpc-status 16"},
                             {"control_plane", "127.0.0.1:15012"}};
  auto text = identity_text("shop/reviews-1", answer, Clock::now());
  EXPECT_THAT(text, HasSubstr("identity:       (none yet)"));
  EXPECT_THAT(text, HasSubstr("3 failed in a row: the control plane refused: grpc-status 16"));
  EXPECT_THAT(text, testing::Not(HasSubstr("chain:")));
}

TEST(CheckCertificate, ProblemsAndWarnings) {
  auto root = cp::ca::new_authority("weft mesh root", hours(24 * 365));
  ASSERT_TRUE(root);
  auto request = cp::ca::new_request("");
  const auto issued_at = std::chrono::floor<std::chrono::seconds>(Clock::now());
  auto issued =
      cp::ca::issue_workload({*root, "", root->cert_pem}, request->csr_pem,
                             "spiffe://cluster.local/ns/shop/sa/reviews", hours(24), issued_at);
  ASSERT_TRUE(issued);
  const boost::json::object current{{"spiffe_id", "spiffe://cluster.local/ns/shop/sa/reviews"},
                                    {"chain_pem", issued->chain_pem},
                                    {"failures_in_a_row", 0}};
  auto failing = current;
  failing["failures_in_a_row"] = 4;
  failing["last_error"] = "connect 10.0.0.1:15012: Connection refused";
  const boost::json::object none{
      {"spiffe_id", ""}, {"failures_in_a_row", 2}, {"last_error", "grpc-status 16"}};
  struct Case {
    std::string name;
    boost::json::object identity;
    Clock::duration after;        // since issuance
    std::optional<bool> problem;  // none: nothing to say
    std::string message;
  };
  const std::vector<Case> cases = {
      {"fresh", current, hours(1), std::nullopt, ""},
      {"late in its life, renewing fine", current, hours(23), std::nullopt, ""},
      {"renewing fails", failing, hours(20), false,
       "expires in 4h0m and renewing it fails (4 requests failed in a row: connect "
       "10.0.0.1:15012"},
      {"expired", failing, hours(25), true, "certificate expired at"},
      {"none", none, hours(0), true, "has no workload certificate (2 requests failed in a row"},
  };
  for (const auto& c : cases) {
    auto finding = check_certificate(c.identity, issued_at + c.after);
    ASSERT_EQ(finding.has_value(), c.problem.has_value()) << c.name;
    if (!finding) continue;
    EXPECT_EQ(finding->problem, *c.problem) << c.name;
    EXPECT_THAT(finding->message, HasSubstr(c.message)) << c.name;
  }
}

}  // namespace
}  // namespace weft::meshctl
