#include "controlplane/server/proxy_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

namespace weft::cp::server {
namespace {

using ::testing::HasSubstr;

const translate::ProxyIdentity kPod{"productpage-7d4f", "shop"};

TEST(BearerToken, TakesOnlyTheBearerScheme) {
  struct Case {
    std::string_view header;
    std::string_view token;
  };
  const Case cases[] = {
      {"Bearer abc.def", "abc.def"},
      {"bearer abc", "abc"},
      {"BEARER  abc ", "abc"},
      {"Basic dXNlcjpw", ""},
      {"Bearer ", ""},
      {"", ""},
      {"Bearerabc", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(bearer_token(c.header), c.token) << c.header;
}

TEST(LocalPeer, OnlyLoopbackAndUnixSockets) {
  struct Case {
    std::string_view peer;
    bool local;
  };
  const Case cases[] = {
      {"ipv4:127.0.0.1:40000", true},
      {"ipv4:127.8.9.1:1", true},
      {"ipv6:[::1]:40000", true},
      {"ipv6:%5B::1%5D:40000", true},
      {"unix:/tmp/s", true},
      {"ipv4:10.0.0.7:40000", false},
      {"ipv4:128.0.0.1:1", false},
      {"ipv6:[::ffff:10.0.0.7]:1", false},
      {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(is_local_peer(c.peer), c.local) << c.peer;
}

TEST(BootstrapToken, ProvesOneNameUnderOneKey) {
  const std::string key = "0123456789abcdef0123456789abcdef";
  const auto token = bootstrap_token(key, kPod);
  EXPECT_EQ(token.size(), 64U);  // hex SHA-256
  EXPECT_EQ(token, bootstrap_token(key, kPod)) << "deterministic";

  struct Case {
    std::string name;
    std::string token;
    translate::ProxyIdentity claimed;
    Verdict verdict;
  };
  const Case cases[] = {
      {"its own token", token, kPod, Verdict::kAccepted},
      {"no token", "", kPod, Verdict::kUnauthenticated},
      {"another Pod's name", token, {"reviews-1", "shop"}, Verdict::kUnauthenticated},
      {"the same name in another namespace",
       token,
       {"productpage-7d4f", "dev"},
       Verdict::kUnauthenticated},
      {"another key's token", bootstrap_token("another key, also long enough", kPod), kPod,
       Verdict::kUnauthenticated},
      {"a prefix of the token", token.substr(0, 32), kPod, Verdict::kUnauthenticated},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(check_bootstrap_token(key, c.token, c.claimed).verdict, c.verdict) << c.name;
  }
}

TEST(TokenReview, RequestAsksForTheMeshAudience) {
  const auto body = token_review_request("t0k\"en");
  EXPECT_THAT(body, HasSubstr(R"("kind":"TokenReview")"));
  EXPECT_THAT(body, HasSubstr(R"("token":"t0k\"en")"));
  EXPECT_THAT(body, HasSubstr(R"("audiences":["mesh.weft.io"])"));
}

// A TokenReview answer as the API server writes it for a projected token.
std::string review(std::string_view user_fields, std::string_view audiences = R"(["mesh.weft.io"])",
                   bool authenticated = true) {
  return fmt::format(R"({{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","status":{{)"
                     R"("authenticated":{},"user":{{{}}},"audiences":{}}}}})",
                     authenticated ? "true" : "false", user_fields, audiences);
}

constexpr std::string_view kShopProductpage =
    R"("username":"system:serviceaccount:shop:productpage","uid":"u1",)"
    R"("extra":{"authentication.kubernetes.io/pod-name":["productpage-7d4f"],)"
    R"("authentication.kubernetes.io/pod-uid":["p1"]})";

TEST(TokenReview, JudgedAgainstThePodTheStreamNames) {
  struct Case {
    std::string name;
    unsigned status;
    std::string body;
    Verdict verdict;
    std::string_view message;
  };
  const Case cases[] = {
      {"the Pod's own token", 201, review(kShopProductpage), Verdict::kAccepted, ""},
      {"the same answer with 200", 200, review(kShopProductpage), Verdict::kAccepted, ""},
      {"not authenticated", 201,
       R"({"status":{"authenticated":false,"error":"token has expired"}})",
       Verdict::kUnauthenticated, "token has expired"},
      {"no status", 201, R"({"kind":"TokenReview"})", Verdict::kUnauthenticated, "not valid"},
      {"another audience", 201, review(kShopProductpage, R"(["https://kubernetes.default.svc"])"),
       Verdict::kUnauthenticated, "audience"},
      {"no audiences", 201, review(kShopProductpage, "[]"), Verdict::kUnauthenticated, "audience"},
      {"a user, not a service account", 201, review(R"("username":"alice")"),
       Verdict::kUnauthenticated, "alice is not a service account"},
      {"not bound to a Pod", 201, review(R"("username":"system:serviceaccount:shop:productpage")"),
       Verdict::kUnauthenticated, "not bound to a Pod"},
      {"another Pod's token", 201,
       review(R"("username":"system:serviceaccount:shop:reviews",)"
              R"("extra":{"authentication.kubernetes.io/pod-name":["reviews-1"]})"),
       Verdict::kPermissionDenied, "shop/reviews-1's, not shop/productpage-7d4f's"},
      {"the same Pod name in another namespace", 201,
       review(R"("username":"system:serviceaccount:dev:productpage",)"
              R"("extra":{"authentication.kubernetes.io/pod-name":["productpage-7d4f"]})"),
       Verdict::kPermissionDenied, "dev/productpage-7d4f's"},
      {"the control plane may not review", 403, R"({"kind":"Status"})", Verdict::kUnavailable,
       "ClusterRole"},
      {"the API server failed", 500, "", Verdict::kUnavailable, "HTTP 500"},
      {"not JSON", 201, "<html>", Verdict::kUnavailable, "not a JSON object"},
      {"authenticated of the wrong type", 201, R"({"status":{"authenticated":"true"}})",
       Verdict::kUnauthenticated, "not valid"},
  };
  for (const auto& c : cases) {
    const auto decision = judge_token_review(c.status, c.body, kPod);
    EXPECT_EQ(decision.verdict, c.verdict) << c.name << ": " << decision.message;
    EXPECT_THAT(decision.message, HasSubstr(std::string(c.message))) << c.name;
  }
}

TEST(TokenReview, AcceptedReviewNamesTheServiceAccount) {
  // Sign certifies the account the API server names, not one the caller claims.
  const auto decision = judge_token_review(201, review(kShopProductpage), kPod);
  ASSERT_EQ(decision.verdict, Verdict::kAccepted);
  EXPECT_EQ(decision.service_account, "productpage");
}

TEST(Authenticators, LocalOnlyServesOnlyThisHost) {
  auto local = local_only_authenticator();
  std::optional<AuthDecision> got;
  local->verify("", "ipv4:127.0.0.1:5000", kPod, [&](const AuthDecision& d) { got = d; });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->verdict, Verdict::kAccepted);
  local->verify("", "ipv4:10.1.2.3:5000", kPod, [&](const AuthDecision& d) { got = d; });
  EXPECT_EQ(got->verdict, Verdict::kUnauthenticated);
  EXPECT_THAT(got->message, HasSubstr("--bootstrap-key"));
}

TEST(Authenticators, BootstrapIgnoresWhereTheProxyIs) {
  const std::string key = "a key of thirty-two bytes, about";
  auto bootstrap = bootstrap_authenticator(key);
  std::optional<AuthDecision> got;
  bootstrap->verify(bootstrap_token(key, kPod), "ipv4:10.1.2.3:5000", kPod,
                    [&](const AuthDecision& d) { got = d; });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->verdict, Verdict::kAccepted);
  bootstrap->verify("", "ipv4:127.0.0.1:5000", kPod, [&](const AuthDecision& d) { got = d; });
  EXPECT_EQ(got->verdict, Verdict::kUnauthenticated) << "loopback is no proof with a key";
}

TEST(Verdicts, EachHasItsOwnLabel) {
  EXPECT_EQ(verdict_label(Verdict::kAccepted), "accepted");
  EXPECT_EQ(verdict_label(Verdict::kUnauthenticated), "unauthenticated");
  EXPECT_EQ(verdict_label(Verdict::kPermissionDenied), "denied");
  EXPECT_EQ(verdict_label(Verdict::kUnavailable), "unavailable");
}

}  // namespace
}  // namespace weft::cp::server
