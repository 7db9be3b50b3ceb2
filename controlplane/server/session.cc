#include "controlplane/server/session.h"

#include <fmt/format.h>

#include "common/config_delta.h"

namespace weft::cp::server {

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

void ProxySession::update(const translate::Mesh& mesh, Clock::time_point seen) {
  auto config = translate::translate(mesh, identity());
  if (!config) {
    status_.translate_error = config.error().message;
    return;
  }
  status_.translate_error.clear();
  auto version = config::content_version(*config);
  if (version == status_.version_desired) return;  // this change does not concern it
  config->set_version(version);
  desired_ = std::move(*config);
  status_.version_desired = version;
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
    result.nacked = true;
  } else {
    status_.acks++;
    acked_ = std::move(*sent_);
    status_.version_acked = acked_.version();
    if (change_seen_ && status_.version_acked == status_.version_desired) {
      result.propagation = now - *change_seen_;
      change_seen_.reset();
    }
  }
  sent_.reset();
  outstanding_nonce_.clear();
  return result;
}

std::optional<mesh::v1::DiscoveryResponse> ProxySession::next() {
  if (sent_ || status_.version_desired.empty()) return std::nullopt;
  if (status_.version_desired == status_.version_acked) return std::nullopt;
  if (status_.version_desired == status_.last_nack_version) return std::nullopt;
  mesh::v1::DiscoveryResponse response;
  response.set_version(status_.version_desired);
  response.set_nonce(fmt::format("{}", ++nonces_));
  if (full_next_ || status_.version_acked.empty()) {
    *response.mutable_config() = desired_;
  } else {
    *response.mutable_delta() = config::make_delta(acked_, desired_);
  }
  full_next_ = false;
  sent_ = desired_;
  outstanding_nonce_ = response.nonce();
  status_.version_sent = status_.version_desired;
  status_.pushes++;
  return response;
}

}  // namespace weft::cp::server
