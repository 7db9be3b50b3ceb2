// What an inbound connection's client proved and which of the workload's
// ports it called: what the authorization layer decides on and what the
// identity header toward the application says (layers/authorization_layer.h).
#pragma once

#include <cstdint>
#include <string>

namespace weft::proxy::listener {

struct InboundPeer {
  // The SPIFFE ID of the client's verified certificate (a peer sidecar's
  // mutual TLS); empty: plaintext, or not an inbound listener.
  std::string identity;
  // The workload's port: the original destination's on the capture
  // listener, the listener's application port on an explicit one.
  std::uint16_t port = 0;
  // x-forwarded-client-cert toward the application, "By=<this workload's
  // SPIFFE ID>;URI=<the caller's>"; empty: none (plaintext). Whatever a
  // client sent under that name is always removed.
  std::string forwarded_client_cert;
};

}  // namespace weft::proxy::listener
