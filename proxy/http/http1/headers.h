// Header handling shared by both directions of HTTP/1.1 proxying.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/random.h"
#include "proxy/http/http1/fields.h"
#include "proxy/router/route.h"

namespace weft::proxy::http::http1 {

namespace beast_http = boost::beast::http;

// An absolute-form request target split ("http://reviews:9080/a?b" is
// authority "reviews:9080", rest "/a?b"); nullopt for any other form.
struct AbsoluteForm {
  std::string_view authority;  // up to the first '/', '?' or '#'
  std::string_view rest;       // from there; may be empty
};
std::optional<AbsoluteForm> split_absolute_form(std::string_view target);

// RFC 9112 §3.2.2: a request in absolute-form ("GET http://reviews:9080/a",
// what a client sends to a proxy it is configured to use, as applications
// in directory mode do with http_proxy) is routed by the target's
// authority, which replaces any Host field, and goes upstream in
// origin-form. Other targets are left alone.
void to_origin_form(RequestHead& head);

// The router's view of a request head (after to_origin_form): the
// authority is the Host header.
class RequestView final : public router::RequestView {
 public:
  explicit RequestView(const RequestHead& head);
  std::string_view method() const override { return head_.method_string(); }
  std::string_view path() const override { return path_; }
  std::string_view query() const override { return query_; }
  std::string_view authority() const override { return authority_; }
  std::optional<std::string_view> header(std::string_view name) const override;
  std::optional<std::string_view> nth_header(std::string_view name,
                                             std::size_t index) const override;

 private:
  const RequestHead& head_;
  std::string_view path_, query_, authority_;
};

// Removes hop-by-hop fields (RFC 9110 §7.6.1): Connection and every field it
// names, Keep-Alive, Proxy-Connection, TE, Upgrade (unless the exchange is an
// upgrade, which needs Connection: upgrade and Upgrade kept). Framing
// (Content-Length / Transfer-Encoding) stays: the serializer re-frames from it.
void strip_hop_by_hop(Fields& fields, bool upgrade);

// The framing of a request going upstream as the parser read it: one
// `Transfer-Encoding: chunked` for a chunked body, else one Content-Length
// with the length (a client may repeat it, or list the same value twice,
// RFC 9112 §6.3), else neither. Untouched when neither field was sent.
void normalize_framing(Fields& fields, std::optional<std::uint64_t> content_length, bool chunked);

// What every request going upstream gets after the route's edits: its
// framing normalised (above), and HTTP/1.1, which needs a Host field: an
// HTTP/1.0 request that had none gets `default_authority` (the cluster's
// name), since an empty Host is refused by strict servers, this proxy's
// inbound side among them.
void finish_upstream_head(RequestHead& head, std::optional<std::uint64_t> content_length,
                          bool chunked, std::string_view default_authority);

// Whether a response with this status has content (RFC 9110 §6.4.1: 1xx,
// 204 and 304 have none, whatever their framing fields say).
constexpr bool status_has_body(unsigned status) {
  return status >= 200 && status != 204 && status != 304;
}

// Whether the request asks to switch protocols (Connection: upgrade + Upgrade).
bool is_upgrade(const RequestHead& head);

void apply_edits(Fields& fields, const router::HeaderEdits& edits);

// Adds or removes "chunked" as the final transfer coding, leaving one
// Transfer-Encoding field (or none, when nothing else is left in it).
void set_chunked(Fields& fields, bool chunked);

// How the parser found a response's body delimited.
struct ResponseFraming {
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close_delimited = false;  // the body ends with the upstream's close
  bool has_body = true;          // false: the answer to HEAD, 1xx, 204, 304
};

// The framing of a response going to a client that spoke HTTP/1.`x`
// (`client_version` 10 or 11); returns whether the body goes chunked.
// - Transfer-Encoding decided the length: Content-Length goes (RFC 9112
//   §6.3), and several Transfer-Encoding fields become one. Otherwise a
//   Content-Length the parser read is sent as one field, however the
//   upstream repeated it.
// - HTTP/1.0 clients get no Transfer-Encoding (RFC 9112 §6.1): the body
//   goes as the parser decoded it, ended by the close. (A coding other
//   than chunked stays applied; an HTTP/1.0 client could not have asked
//   for one.)
// - HTTP/1.1 clients get a close-delimited body chunked, so the connection
//   stays reusable, and so does a body with a transfer coding but not
//   chunked (whose end the parser found by Content-Length or the close).
// - A response without a body keeps its fields (a HEAD answer says what
//   GET would send) and gets no chunk framing.
bool frame_response(ResponseHead& head, unsigned client_version, const ResponseFraming& read);

// A generated x-request-id, held inline (it is made for most requests).
struct RequestId {
  std::array<char, 36> text;
  std::string_view view() const { return {text.data(), text.size()}; }
};

// 32 hex digits from `rng`, formatted as a UUID (8-4-4-4-12).
RequestId new_request_id(FastRandom& rng);

}  // namespace weft::proxy::http::http1
