// The pod's traffic capture as iptables-restore input: what mesh-init
// applies in the pod's network namespace before any other container starts.
// Pure, so the rules are golden-tested and printed by `mesh-init --dry-run`
// exactly as they are applied.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/pod_network.h"
#include "common/result.h"

namespace weft::injector {

enum class IpFamily { kIpv4, kIpv6 };

// An address range in CIDR form, parsed and normalised ("10.0.0.0/8").
struct Cidr {
  IpFamily family = IpFamily::kIpv4;
  std::string text;
};

struct CaptureRules {
  std::uint32_t proxy_uid = pod_network::kProxyUid;  // its own traffic is never captured
  std::uint16_t outbound_port = pod_network::kOutboundCapturePort;
  std::uint16_t inbound_port = pod_network::kInboundCapturePort;
  // Reach the proxy itself, never redirected.
  std::vector<std::uint16_t> proxy_ports{pod_network::kAdminPort, pod_network::kOutboundCapturePort,
                                         pod_network::kInboundCapturePort, pod_network::kHealthPort,
                                         pod_network::kMetricsPort};
  std::vector<std::uint16_t> exclude_inbound_ports;
  std::vector<std::uint16_t> exclude_outbound_ports;
  std::vector<Cidr> exclude_outbound_cidrs;
};

// "a, b,c" -> {"a", "b", "c"}: split on commas, blanks trimmed, empty items
// skipped (the form of every list annotation and flag).
std::vector<std::string_view> split_list(std::string_view text);

// One port in 1..65535; an error naming the text otherwise.
Result<std::uint16_t> parse_port(std::string_view text);

// "15020, 8080" -> ports. Empty text is an empty list; anything else that is
// not a port in 1..65535 is an error naming it.
Result<std::vector<std::uint16_t>> parse_ports(std::string_view text);

// "10.0.0.0/8,fd00::/8" -> ranges; a bare address is a /32 or /128.
Result<std::vector<Cidr>> parse_cidrs(std::string_view text);

// The complete nat table for one family, for iptables-restore (IPv4) or
// ip6tables-restore (IPv6). Restoring it replaces the namespace's nat table,
// so applying it twice leaves the same rules (mesh-init is idempotent).
std::string restore_input(const CaptureRules& rules, IpFamily family);

}  // namespace weft::injector
