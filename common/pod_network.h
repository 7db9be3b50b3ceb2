// The sidecar's place in a pod's network (DESIGN.md §2), shared by the
// injector, mesh-init's capture rules, the control plane's capture
// listeners and the proxy: one definition, so they cannot drift apart.
#pragma once

#include <cstdint>

namespace weft::pod_network {

inline constexpr std::uint16_t kOutboundCapturePort = 15001;
inline constexpr std::uint16_t kInboundCapturePort = 15006;
inline constexpr std::uint16_t kAdminPort = 15000;  // loopback only
inline constexpr std::uint16_t kMetricsPort = 15090;
inline constexpr std::uint16_t kHealthPort = 15021;  // GET /ready for the kubelet

// The proxy's uid: its own connections are never captured.
inline constexpr std::uint32_t kProxyUid = 1337;

// The source address the proxy dials the local application from on the
// inbound side; capture rules leave loopback traffic from it alone.
inline constexpr const char* kInboundSourceIpv4 = "127.0.0.6";

}  // namespace weft::pod_network
