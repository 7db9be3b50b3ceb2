#include "controlplane/server/session.h"

#include <fmt/format.h>

namespace weft::cp::server {

std::string Outgoing::nonce_field() const {
  mesh::v1::DiscoveryResponse only_nonce;
  only_nonce.set_nonce(nonce);
  return only_nonce.SerializeAsString();
}

mesh::v1::DiscoveryResponse Outgoing::decode() const {
  mesh::v1::DiscoveryResponse response;
  response.ParseFromString(*body + nonce_field());
  return response;
}

ProxySession::ProxySession(SystemClock::time_point connected) {
  status_.connected_since = connected;
}

Result<void> ProxySession::hello(const mesh::v1::DiscoveryRequest& request) {
  const auto& node = request.node();
  if (node.name().empty()) {
    return fail(ErrorCode::kInvalidArgument, "the first request must carry node.name");
  }
  status_.name = node.name();
  status_.ns = node.namespace_().empty() ? "default" : node.namespace_();
  status_.proxy_version = node.proxy_version();
  return {};
}

void ProxySession::update(const std::shared_ptr<ConfigCache>& cache, Clock::time_point seen) {
  cache_ = cache;
  auto config = cache->config_for(identity());
  if (!config) {
    status_.translate_error = config.error().message;
    return;
  }
  status_.translate_error.clear();
  if ((*config)->version() == status_.version_desired) return;  // not concerned by this change
  desired_ = *config;
  status_.version_desired = desired_->version();
  if (!change_seen_) change_seen_ = seen;  // the oldest change not yet ACKed
}

Result<ProxySession::Acked> ProxySession::reply(const mesh::v1::DiscoveryRequest& request,
                                                Clock::time_point now) {
  if (!sent_ || request.nonce() != outstanding_nonce_) {
    return fail(ErrorCode::kInvalidArgument, "reply to nonce '{}', which is not outstanding",
                request.nonce());
  }
  Acked result;
  if (request.has_error()) {
    status_.nacks++;
    status_.last_nack_version = sent_->version();
    status_.last_nack_error = request.error().message();
    full_next_ = true;  // whatever went wrong, the next response starts afresh
    retry_whole_ = !sent_whole_;
    result.nacked = true;
  } else {
    status_.acks++;
    acked_ = sent_;
    status_.version_acked = acked_->version();
    if (change_seen_ && status_.version_acked == status_.version_desired) {
      result.propagation = now - *change_seen_;
      change_seen_.reset();
    }
  }
  sent_.reset();
  outstanding_nonce_.clear();
  return result;
}

std::optional<Outgoing> ProxySession::next() {
  if (sent_ || status_.version_desired.empty()) return std::nullopt;
  if (status_.version_desired == status_.version_acked) return std::nullopt;
  if (status_.version_desired == status_.last_nack_version && !retry_whole_) return std::nullopt;
  Outgoing response;
  response.version = status_.version_desired;
  response.nonce = fmt::format("{}", ++nonces_);
  sent_whole_ = full_next_ || !acked_;
  response.body =
      sent_whole_ ? cache_->full_response(desired_) : cache_->delta_response(acked_, desired_);
  full_next_ = false;
  retry_whole_ = false;
  sent_ = desired_;
  outstanding_nonce_ = response.nonce;
  status_.version_sent = status_.version_desired;
  status_.pushes++;
  return response;
}

}  // namespace weft::cp::server
