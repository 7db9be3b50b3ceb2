// One AdmissionReview (admission.k8s.io/v1) answered: the webhook's pure
// core. The request's Pod goes through inject(); the answer carries the
// same uid, `allowed`, and the patch as base64 JSONPatch.
#pragma once

#include <string>
#include <string_view>

#include "injector/inject.h"

namespace weft::injector::webhook {

// What happened, for metrics and logs.
enum class Outcome {
  kInjected,
  kSkipped,     // allowed unchanged: opted out, already injected, hostNetwork
  kDenied,      // allowed: false, the Pod's own mistake (a malformed annotation)
  kBadRequest,  // not an AdmissionReview we can answer: HTTP 400
};

struct Answer {
  Outcome outcome = Outcome::kBadRequest;
  unsigned http_status = 400;
  std::string body;    // the AdmissionReview response, or an error message
  std::string detail;  // the skip reason or the error, for metrics and logs
  std::string pod;     // namespace/name (or generateName) for logs
};

Answer review(std::string_view body, const Settings& settings);

std::string_view outcome_name(Outcome outcome);

}  // namespace weft::injector::webhook
