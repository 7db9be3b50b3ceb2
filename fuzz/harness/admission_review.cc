// The injector's admission webhook: an AdmissionReview body from the API
// server (or anyone who can reach the webhook port) answered with the
// sidecar patch. Properties: every body gets an answer, HTTP 400 when it
// cannot be one; the patch of an injected Pod applies to that Pod (the API
// server would otherwise refuse to create it), and the patched Pod is not
// injected twice.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/base64.h"
#include "common/json_access.h"
#include "fuzz/harness/fuzz.h"
#include "injector/inject.h"
#include "injector/json_patch.h"
#include "injector/webhook/review.h"

namespace json = boost::json;
namespace injector = weft::injector;
namespace webhook = weft::injector::webhook;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const injector::Settings settings;
  auto body = weft::fuzz::bytes_of(data, size);
  auto answer = webhook::review(body, settings);
  FUZZ_EXPECT(!webhook::outcome_name(answer.outcome).empty());
  if (answer.outcome == webhook::Outcome::kBadRequest) {
    FUZZ_EXPECT(answer.http_status == 400);
    return 0;
  }
  FUZZ_EXPECT(answer.http_status == 200);
  boost::system::error_code ec;
  auto reply = json::parse(answer.body, ec);
  FUZZ_EXPECT(!ec && reply.is_object());
  const auto& response = weft::json_access::member(reply, "response");
  FUZZ_EXPECT(response.is_object());
  if (answer.outcome != webhook::Outcome::kInjected) return 0;

  auto patch =
      json::parse(weft::base64::decode(weft::json_access::string_at(response, "patch")), ec);
  FUZZ_EXPECT(!ec && patch.is_array());
  auto pod = json::parse(body).at("request").at("object");
  auto applied = injector::apply_patch(pod, patch.as_array());
  FUZZ_EXPECT(applied.has_value());
  auto twice = injector::inject(pod.as_object(), json::object(), settings);
  FUZZ_EXPECT(!twice || !twice->injected);
  return 0;
}
