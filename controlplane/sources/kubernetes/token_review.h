// Kubernetes mode's proxy authentication (server/proxy_auth.h): the token a
// proxy sends is its Pod's projected service-account token, and a
// TokenReview tells whose it is. Answers are kept for a minute, so a
// reconnecting fleet (a control plane restart) costs the API server one
// review per Pod, not one per reconnect.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/server/proxy_auth.h"
#include "controlplane/sources/kubernetes/client.h"

namespace weft::cp::kubernetes {

class TokenReviewer final : public server::ProxyAuthenticator {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kKeep{60};
  static constexpr std::size_t kMaxKept = 10'000;

  TokenReviewer(boost::asio::io_context& io, ApiClient& client) : io_(io), client_(client) {}

  // `done` runs on the io_context's thread, or at once for a kept answer.
  void verify(std::string token, std::string peer, translate::ProxyIdentity claimed,
              Done done) override;
  std::string describe() const override { return "TokenReview of the Pod's projected token"; }

 private:
  struct Kept {
    server::AuthDecision decision;
    Clock::time_point until;
  };
  boost::asio::awaitable<void> review(std::string body, std::string key,
                                      translate::ProxyIdentity claimed, Done done);
  void keep(const std::string& key, const server::AuthDecision& decision);

  boost::asio::io_context& io_;
  ApiClient& client_;
  std::mutex mutex_;
  std::map<std::string, Kept> kept_;  // by token and claimed Pod
};

}  // namespace weft::cp::kubernetes
