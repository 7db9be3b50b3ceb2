#include "injector/webhook/review.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "common/base64.h"
#include "common/json_access.h"

namespace weft::injector::webhook {
namespace {

namespace json = boost::json;
using json_access::object_at;
using json_access::string_at;

Answer bad_request(const std::string& message) {
  return {Outcome::kBadRequest, 400, message + "\n", message, {}};
}

std::string pod_name(const json::object& request, const json::object& pod) {
  const auto* metadata = object_at(&pod, "metadata");
  auto name = string_at(metadata, "name");
  if (name.empty()) name = string_at(metadata, "generateName");
  return fmt::format("{}/{}", string_at(&request, "namespace"), name);
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kInjected:
      return "injected";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kDenied:
      return "denied";
    case Outcome::kBadRequest:
      break;
  }
  return "bad_request";
}

Answer review(std::string_view body, const Settings& settings) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return bad_request("the body is not a JSON object");
  const auto* review = &parsed.get_object();
  if (string_at(review, "apiVersion") != "admission.k8s.io/v1" ||
      string_at(review, "kind") != "AdmissionReview") {
    return bad_request("expected apiVersion admission.k8s.io/v1, kind AdmissionReview");
  }
  const auto* request = object_at(review, "request");
  if (request == nullptr) return bad_request("no request");
  auto uid = string_at(request, "uid");
  if (uid.empty()) return bad_request("request.uid is missing");
  const auto* pod = object_at(request, "object");
  if (pod == nullptr) return bad_request("request.object is not a Pod");

  Answer answer;
  answer.http_status = 200;
  answer.pod = pod_name(*request, *pod);
  json::object response{{"uid", uid}, {"allowed", true}};
  auto injection = inject(*pod, json::object(), settings);
  if (!injection) {
    answer.outcome = Outcome::kDenied;
    answer.detail = injection.error().message;
    response["allowed"] = false;
    response["status"] = {{"code", 400},
                          {"reason", "BadRequest"},
                          {"message", "mesh sidecar injection: " + injection.error().message}};
  } else if (!injection->injected) {
    answer.outcome = Outcome::kSkipped;
    answer.detail = injection->skip_reason;
  } else {
    answer.outcome = Outcome::kInjected;
    response["patchType"] = "JSONPatch";
    response["patch"] = base64::encode(json::serialize(injection->patch));
  }
  answer.body = json::serialize(json::object{{"apiVersion", "admission.k8s.io/v1"},
                                             {"kind", "AdmissionReview"},
                                             {"response", std::move(response)}});
  return answer;
}

}  // namespace weft::injector::webhook
