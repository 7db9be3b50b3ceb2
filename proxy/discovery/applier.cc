#include "proxy/discovery/applier.h"

#include "common/config_delta.h"
#include "common/unknown_fields.h"

namespace weft::proxy::discovery {

Result<mesh::v1::ProxyConfig> Applier::candidate(
    const mesh::v1::DiscoveryResponse& response) const {
  // Acting on the rest would ignore what the sender meant by the unknown
  // part; the last good configuration stays in force instead.
  if (auto unknown = proto::find_unknown(response)) {
    return fail(ErrorCode::kInvalidArgument,
                "the response has a part this proxy does not know ({}): is the control plane "
                "newer than the proxy?",
                *unknown);
  }
  mesh::v1::ProxyConfig next;
  if (response.has_config()) {
    next = response.config();
    config::canonicalize(next);
  } else if (response.has_delta()) {
    if (!have_base_) {
      return fail(ErrorCode::kInvalidArgument, "a delta before any whole configuration");
    }
    auto applied = config::apply_delta(base_, response.delta());
    if (!applied) return applied;
    next = std::move(*applied);
  } else {
    return fail(ErrorCode::kInvalidArgument, "a response with neither config nor delta");
  }
  auto computed = config::content_version(next);
  if (computed != response.version()) {
    return fail(ErrorCode::kInvalidArgument,
                "content version {} does not match the announced {}; send the whole "
                "configuration",
                computed, response.version());
  }
  next.set_version(response.version());
  return next;
}

mesh::v1::DiscoveryRequest Applier::handle(const mesh::v1::DiscoveryResponse& response) {
  mesh::v1::DiscoveryRequest reply;
  reply.set_version(response.version());
  reply.set_nonce(response.nonce());
  auto next = candidate(response);
  if (next) {
    if (auto applied = apply_(*next); !applied) next = tl::unexpected(applied.error());
  }
  if (!next) {
    reply.mutable_error()->set_message(next.error().message);
    return reply;
  }
  base_ = std::move(*next);
  have_base_ = true;
  return reply;
}

}  // namespace weft::proxy::discovery
