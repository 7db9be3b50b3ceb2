#include "controlplane/sources/kubernetes/token_review.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace weft::cp::kubernetes {

namespace asio = boost::asio;
using server::AuthDecision;
using server::Verdict;

constexpr std::string_view kTokenReviews = "/apis/authentication.k8s.io/v1/tokenreviews";

void TokenReviewer::verify(std::string token, std::string /*peer*/,
                           translate::ProxyIdentity claimed, Done done) {
  if (token.empty()) {
    return done({Verdict::kUnauthenticated,
                 fmt::format("{}/{} sent no token (the injector mounts one at "
                             "/var/run/secrets/mesh.weft.io/tokens/token)",
                             claimed.ns, claimed.name),
                 {}});
  }
  auto key = fmt::format("{}\n{}/{}", token, claimed.ns, claimed.name);
  {
    std::lock_guard lock(mutex_);
    auto found = kept_.find(key);
    if (found != kept_.end() && Clock::now() < found->second.until) {
      auto decision = found->second.decision;
      return done(decision);
    }
  }
  asio::co_spawn(io_,
                 review(server::token_review_request(token), std::move(key), std::move(claimed),
                        std::move(done)),
                 asio::detached);
}

asio::awaitable<void> TokenReviewer::review(std::string body, std::string key,
                                            translate::ProxyIdentity claimed, Done done) {
  auto answer = co_await client_.request("POST", std::string(kTokenReviews), std::move(body),
                                         "application/json");
  AuthDecision decision;
  if (!answer) {
    decision = {Verdict::kUnavailable, "TokenReview: " + answer.error().message, {}};
  } else {
    decision = server::judge_token_review(answer->status, answer->body, claimed);
  }
  // A failed review is not kept: the proxy's next attempt asks again.
  if (decision.verdict != Verdict::kUnavailable) keep(key, decision);
  done(std::move(decision));
}

void TokenReviewer::keep(const std::string& key, const AuthDecision& decision) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (kept_.size() >= kMaxKept)
    std::erase_if(kept_, [&](auto& kept) { return kept.second.until <= now; });
  if (kept_.size() >= kMaxKept) kept_.clear();  // all fresh: start over rather than grow
  kept_[key] = {decision, now + kKeep};
}

}  // namespace weft::cp::kubernetes
