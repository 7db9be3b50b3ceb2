#include "proxy/http/http1/upstream_request.h"

#include <string>

#include "proxy/http/http1/headers.h"
#include "proxy/layers/trace.h"
#include "proxy/metrics/workload.h"

namespace weft::proxy::http::http1 {

void prepare_upstream_request(RequestHead& head, bool upgrade, const Downstream& downstream,
                              const router::HeaderEdits& edits, std::string_view peer_field,
                              FastRandom& rng) {
  strip_hop_by_hop(head, upgrade);
  // Beast has no enum for these names: insert them as unknown, skipping
  // its name lookup.
  constexpr auto kUnknown = beast_http::field::unknown;
  auto forwarded_for = head.find("x-forwarded-for");
  if (forwarded_for == head.end()) {
    head.insert_literal(kUnknown, "x-forwarded-for", downstream.peer_ip);
  } else {
    auto appended = std::string(forwarded_for->value()) + ", " + std::string(downstream.peer_ip);
    head.erase("x-forwarded-for");
    head.insert_literal(kUnknown, "x-forwarded-for", appended);
  }
  if (head.find("x-request-id") == head.end()) {
    head.insert_literal(kUnknown, "x-request-id", new_request_id(rng).view());
  }
  head.erase("x-forwarded-proto");
  head.insert_literal(kUnknown, "x-forwarded-proto", downstream.tls ? "https" : "http");
  // Only the proxy says who calls: a client's own x-forwarded-client-cert
  // or x-weft-peer never passes.
  head.erase(kForwardedClientCert);
  if (!downstream.client_cert.empty()) {
    head.insert_literal(kUnknown, kForwardedClientCert, downstream.client_cert);
  }
  head.erase(metrics::kPeerField);
  if (!peer_field.empty()) head.insert_literal(kUnknown, metrics::kPeerField, peer_field);
  apply_edits(head, edits);
}

std::size_t fields_added_upstream(const RequestHead& head, bool traced) {
  std::size_t added = 0;
  constexpr std::string_view kAdded[] = {"x-forwarded-for", "x-request-id", "x-forwarded-proto",
                                         metrics::kPeerField};
  for (auto name : kAdded) {
    if (head.find(name) == head.end()) ++added;
  }
  if (head.find(beast_http::field::host) == head.end()) ++added;
  return added + (traced ? layers::trace::fields_added(head) : 0);
}

void to_http1_upstream_request(RequestHead& head, bool upgrade, const Downstream& downstream,
                               const router::HeaderEdits& edits, std::string_view peer_field,
                               FastRandom& rng, const RequestFraming& framing,
                               std::string_view default_authority) {
  prepare_upstream_request(head, upgrade, downstream, edits, peer_field, rng);
  finish_upstream_head(head, framing.content_length, framing.chunked, default_authority);
}

}  // namespace weft::proxy::http::http1
