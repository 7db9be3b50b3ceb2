// What a sidecar's inbound listener does with a peer's connection under
// its mutual TLS mode (docs/tasks/mtls.md). Pure: the listener sniffs, this
// decides.
#pragma once

#include "proxy/config/snapshot.h"

namespace weft::proxy::listener {

enum class InboundAction {
  kTerminateTls,     // mutual TLS with the workload's certificate, then the request
  kServe,            // as the listener serves any connection (plaintext)
  kRefusePlaintext,  // closed unanswered and counted (STRICT)
};

// `identity`: this proxy has a workload identity (mesh-proxy --ca-address);
// `tls`: the connection starts with a TLS record.
// - STRICT: TLS is terminated (refused, counted, without an identity), the
//   rest refused;
// - PERMISSIVE: TLS is terminated when there is an identity to do it with,
//   the rest served;
// - DISABLE: everything served as it is, TLS included (an application's own).
constexpr InboundAction inbound_action(config::MtlsMode mode, bool identity, bool tls) {
  switch (mode) {
    case config::MtlsMode::kStrict:
      return tls ? InboundAction::kTerminateTls : InboundAction::kRefusePlaintext;
    case config::MtlsMode::kPermissive:
      return tls && identity ? InboundAction::kTerminateTls : InboundAction::kServe;
    case config::MtlsMode::kDisable:
      return InboundAction::kServe;
  }
  return InboundAction::kServe;
}

// Whether the listener must look for a TLS record among the first bytes.
constexpr bool looks_for_tls(config::MtlsMode mode, bool identity) {
  return mode == config::MtlsMode::kStrict || (mode == config::MtlsMode::kPermissive && identity);
}

}  // namespace weft::proxy::listener
