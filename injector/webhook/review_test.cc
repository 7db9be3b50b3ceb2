#include "injector/webhook/review.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/base64.h"
#include "injector/json_patch.h"

namespace weft::injector::webhook {
namespace {

namespace json = boost::json;

std::string review_of(const char* pod) {
  return json::serialize(json::object{{"apiVersion", "admission.k8s.io/v1"},
                                      {"kind", "AdmissionReview"},
                                      {"request",
                                       {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                                        {"namespace", "shop"},
                                        {"operation", "CREATE"},
                                        {"object", json::parse(pod)}}}});
}

TEST(Review, InjectsWithTheSameUidAndABase64JsonPatch) {
  auto answer =
      review(review_of(R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"web"}]}})"),
             Settings{});
  ASSERT_EQ(answer.outcome, Outcome::kInjected) << answer.body;
  EXPECT_EQ(answer.http_status, 200u);
  EXPECT_EQ(answer.pod, "shop/web");
  auto body = json::parse(answer.body).as_object();
  EXPECT_EQ(body.at("apiVersion"), "admission.k8s.io/v1");
  EXPECT_EQ(body.at("kind"), "AdmissionReview");
  const auto& response = body.at("response").as_object();
  EXPECT_EQ(response.at("uid"), "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(response.at("allowed"), true);
  EXPECT_EQ(response.at("patchType"), "JSONPatch");
  auto patch = json::parse(base64::decode(response.at("patch").as_string()));
  json::value pod =
      json::parse(R"({"metadata":{"name":"web"},"spec":{"containers":[{"name":"web"}]}})");
  ASSERT_TRUE(apply_patch(pod, patch.as_array()));
  EXPECT_EQ(pod.at("spec").at("initContainers").at(1).at("name"), "mesh-proxy");
}

TEST(Review, SkippedPodsAreAllowedWithoutAPatch) {
  auto answer = review(
      review_of(
          R"({"metadata":{"generateName":"web-","annotations":{"mesh.weft.io/inject":"false"}},)"
          R"("spec":{"containers":[{"name":"web"}]}})"),
      Settings{});
  EXPECT_EQ(answer.outcome, Outcome::kSkipped);
  EXPECT_EQ(answer.detail, "opted_out");
  EXPECT_EQ(answer.pod, "shop/web-");
  auto body = json::parse(answer.body);
  const auto& response = body.at("response").as_object();
  EXPECT_EQ(response.at("allowed"), true);
  EXPECT_FALSE(response.contains("patch"));
}

TEST(Review, APodsOwnMistakeIsDeniedWithAMessage) {
  auto answer = review(
      review_of(R"({"metadata":{"annotations":{"mesh.weft.io/exclude-outbound-ports":"db"}},)"
                R"("spec":{"containers":[{"name":"web"}]}})"),
      Settings{});
  EXPECT_EQ(answer.outcome, Outcome::kDenied);
  auto body = json::parse(answer.body);
  const auto& response = body.at("response").as_object();
  EXPECT_EQ(response.at("allowed"), false);
  EXPECT_EQ(response.at("status").at("code"), 400);
  EXPECT_EQ(response.at("status").at("message"),
            "mesh sidecar injection: mesh.weft.io/exclude-outbound-ports: 'db' is not a port "
            "(1-65535)");
}

struct BadCase {
  const char* body;
  const char* message;
};

TEST(Review, MalformedReviewsAreBadRequests) {
  const BadCase cases[] = {
      {"", "the body is not a JSON object"},
      {"[1]", "the body is not a JSON object"},
      {R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"})",
       "expected apiVersion admission.k8s.io/v1, kind AdmissionReview"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", "no request"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{}}})",
       "request.uid is missing"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}})",
       "request.object is not a Pod"},
  };
  for (const auto& c : cases) {
    auto answer = review(c.body, Settings{});
    EXPECT_EQ(answer.outcome, Outcome::kBadRequest) << c.body;
    EXPECT_EQ(answer.http_status, 400u);
    EXPECT_EQ(answer.detail, c.message) << c.body;
  }
}

}  // namespace
}  // namespace weft::injector::webhook

#include "injector/webhook/sidecar_support.h"

namespace weft::injector::webhook {
namespace {

struct VersionCase {
  const char* major;
  const char* minor;
  bool native;
};

TEST(SidecarSupport, NativeFromKubernetes129) {
  const VersionCase cases[] = {{"1", "29", true},  {"1", "33", true},   {"1", "29+", true},
                               {"1", "28", false}, {"1", "28+", false}, {"2", "0", true},
                               {"", "", false}};
  for (const auto& c : cases) {
    EXPECT_EQ(supports_native_sidecars(c.major, c.minor), c.native) << c.major << "." << c.minor;
  }
}

}  // namespace
}  // namespace weft::injector::webhook
