// The authorization layer where the codecs and the TCP path meet it: the
// pure decision (authorization.h) over this workload's policies, for a
// request or an opaque connection on an inbound listener, counted; and
// what a denied request's Record says.
#pragma once

#include <optional>
#include <string_view>

#include "proxy/layers/authorization.h"
#include "proxy/layers/exchange.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::layers::authorization {

// The denying policy, counted in mesh_authz_denied_total; null when the
// request may go on (always off inbound listeners, and for a workload
// without policies).
const Policy* check(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                    const Request& request);

// What a denied request's Record says: the policy, and the caller and the
// Service it called as x-weft-peer says (`peer_field`), so both sidecars
// of a hop count the 403 alike. (A request that is let through has them
// read when it is routed.)
void record_denial(Record& record, const Policy& policy, std::optional<std::string_view> peer_field,
                   metrics::WorkerRequests& requests);

}  // namespace weft::proxy::layers::authorization
