// Protocol sniffing on the first bytes a client sends, for capture listeners
// and PROTOCOL_AUTO listeners. Pure: the connection code reads, this decides.
#pragma once

#include <string_view>

namespace weft::proxy::listener::sniff {

enum class Protocol {
  kNeedMore,  // not decidable yet: read more (up to kMaxSniffBytes) or time out
  kHttp1,     // an HTTP/1.x request line
  kHttp2,     // the HTTP/2 connection preface (prior knowledge)
  kTls,       // a TLS ClientHello record
  kOpaque,    // anything else
  // (classify_http only) the preface's request line, `PRI * HTTP/2.0`,
  // then other bytes: an HTTP/2 client whose preface is broken, a
  // connection error (RFC 9113 §3.4), not an HTTP/1 request.
  kBadHttp2Preface,
};

// Enough for the HTTP/2 preface and any request line's method and version.
inline constexpr std::size_t kMaxSniffBytes = 64;

Protocol classify(std::string_view first_bytes);

// For listeners that speak HTTP only: kHttp2 for the connection preface,
// kBadHttp2Preface for its request line followed by anything else, kHttp1
// for anything else (malformed requests included: the HTTP/1 parser answers
// them), kNeedMore while the bytes are a prefix of the preface.
Protocol classify_http(std::string_view first_bytes);

// For a sidecar's inbound HTTP listener, where peers' sidecars speak mutual
// TLS and others plain HTTP: kTls for a TLS handshake record, else as
// classify_http.
Protocol classify_inbound_http(std::string_view first_bytes);

std::string_view name(Protocol protocol);

}  // namespace weft::proxy::listener::sniff
