#include "proxy/listener/local_reply.h"

#include <array>

namespace weft::proxy::listener {

LocalReply upstream_failure(std::string_view reason) {
  struct Known {
    std::string_view reason;  // a literal: LocalReply keeps the view
    unsigned status;
    std::string_view body;
  };
  static constexpr std::array<Known, 8> kKnown{{
      {"no_healthy_upstream", 503, "no healthy upstream\n"},
      {"upstream_connect_failure", 503, "upstream connect failure\n"},
      {"upstream_connect_timeout", 503, "upstream connect timeout\n"},
      {"upstream_tls_failure", 503, "upstream TLS handshake failed\n"},
      {"upstream_request_timeout", 504, "upstream request timeout\n"},
      {"upstream_reset", 502, "upstream reset before response\n"},
      {"upstream_protocol_error", 502, "upstream protocol error\n"},
      // A share of a split whose backend the control plane could not
      // resolve: 500, as Gateway API requires for an invalid backendRef.
      {"backend_not_found", 500, "backend not found\n"},
  }};
  for (const auto& known : kKnown) {
    if (known.reason == reason) return {known.status, known.reason, std::string(known.body), ""};
  }
  return upstream_failure("upstream_connect_failure");
}

}  // namespace weft::proxy::listener
