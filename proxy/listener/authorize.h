// The authorization layer where the codecs and the TCP path meet it: the
// pure decision (layers/authorization.h) over this workload's policies,
// for a request or an opaque connection on an inbound listener.
#pragma once

#include <optional>
#include <string_view>

#include "proxy/layers/authorization.h"
#include "proxy/layers/exchange.h"
#include "proxy/listener/inbound_peer.h"
#include "proxy/listener/local_reply.h"
#include "proxy/worker/worker_state.h"

namespace weft::proxy::listener {

// The denying policy, counted in mesh_authz_denied_total; null when the
// request may go on (always off inbound listeners, and for a workload
// without policies). `http` false: an opaque TCP connection (no method or
// target).
const layers::authorization::Policy* authorize(worker::WorkerState& state, const worker::View& view,
                                               std::size_t listener, const InboundPeer& peer,
                                               bool http, std::string_view method,
                                               std::string_view target);

// What a denied request's Record says: the policy, and the caller and the
// Service it called as x-weft-peer says (`peer_field`), so both sidecars
// of a hop count the 403 alike. (A request that is let through has them
// read when it is routed.)
void record_denial(layers::Record& record, const layers::authorization::Policy& policy,
                   std::optional<std::string_view> peer_field, metrics::WorkerRequests& requests);

// A denied request's answer: 403 rbac_denied (gRPC: PERMISSION_DENIED).
inline LocalReply denied_reply() { return {403, "rbac_denied", "RBAC: access denied\n", ""}; }

}  // namespace weft::proxy::listener
