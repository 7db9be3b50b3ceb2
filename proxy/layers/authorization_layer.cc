#include "proxy/layers/authorization_layer.h"

#include "proxy/layers/observe.h"

namespace weft::proxy::layers::authorization {

const Policy* check(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                    const Request& request) {
  const auto& policies = view.snapshot->authorization;
  if (policies.empty() ||
      view.snapshot->listeners[listener].direction != config::Direction::kInbound) {
    return nullptr;
  }
  auto verdict = decide(policies, request);
  if (verdict.allowed) return nullptr;
  state.metrics.authz_denied(verdict.policy->name).Increment();
  return verdict.policy;
}

void record_denial(Record& record, const Policy& policy, std::optional<std::string_view> peer_field,
                   metrics::WorkerRequests& requests) {
  record.authz_policy = policy.name;
  observe::read_caller(record, peer_field, requests);
}

}  // namespace weft::proxy::layers::authorization
