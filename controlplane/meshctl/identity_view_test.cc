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

}  // namespace
}  // namespace weft::meshctl
