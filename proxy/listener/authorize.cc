#include "proxy/listener/authorize.h"

#include "proxy/layers/observe.h"

namespace weft::proxy::listener {

const layers::authorization::Policy* authorize(worker::WorkerState& state, const worker::View& view,
                                               std::size_t listener, const InboundPeer& peer,
                                               bool http, std::string_view method,
                                               std::string_view target) {
  const auto& policies = view.snapshot->authorization;
  if (policies.empty() ||
      view.snapshot->listeners[listener].direction != config::Direction::kInbound) {
    return nullptr;
  }
  auto verdict = layers::authorization::decide(policies, {.identity = peer.identity,
                                                          .port = peer.port,
                                                          .http = http,
                                                          .method = method,
                                                          .target = target});
  if (verdict.allowed) return nullptr;
  state.metrics.authz_denied(verdict.policy->name).Increment();
  return verdict.policy;
}

void record_denial(layers::Record& record, const layers::authorization::Policy& policy,
                   std::optional<std::string_view> peer_field, metrics::WorkerRequests& requests) {
  record.authz_policy = policy.name;
  layers::observe::read_caller(record, peer_field, requests);
}

}  // namespace weft::proxy::listener
