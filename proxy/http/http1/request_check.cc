#include "proxy/http/http1/request_check.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/parser.h"
#include "proxy/http/http1/upstream_request.h"

namespace weft::proxy::http::http1 {
namespace beast_http = boost::beast::http;

Rejection rejection_for(const boost::system::error_code& parse_error) {
  using E = beast_http::error;
  if (parse_error == E::bad_method) return {400, "bad_method"};
  if (parse_error == E::bad_target) return {400, "bad_target"};
  if (parse_error == E::bad_version) return {400, "bad_version"};
  if (parse_error == E::bad_field) return {400, "bad_header_name"};
  if (parse_error == E::bad_value) return {400, "bad_header_value"};
  if (parse_error == E::bad_line_ending) return {400, "bad_line_ending"};
  if (parse_error == E::bad_content_length || parse_error == E::multiple_content_length) {
    return {400, "bad_content_length"};
  }
  if (parse_error == E::bad_transfer_encoding) return {400, "bad_transfer_encoding"};
  if (parse_error == E::bad_chunk || parse_error == E::bad_chunk_extension) {
    return {400, "bad_chunk"};
  }
  if (parse_error == E::bad_obs_fold) return {400, "obs_fold"};
  if (parse_error == E::header_limit) return {431, "header_too_large"};
  return {400, "malformed"};
}

namespace {

std::string_view trimmed(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

// Transfer-Encoding must be a list whose last coding is chunked, chunked
// appearing once (RFC 9112 §6.1, §6.3). Beast accepts "gzip" alone, which
// would leave the body length undefined.
bool transfer_encoding_ok(std::string_view value) {
  bool chunked_seen = false;
  bool last_is_chunked = false;
  while (!value.empty()) {
    auto comma = value.find(',');
    auto coding = value.substr(0, comma);
    while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
      coding.remove_prefix(1);
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
      coding.remove_suffix(1);
    if (coding.empty()) return false;
    last_is_chunked = boost::beast::iequals(coding, "chunked");
    if (last_is_chunked && chunked_seen) return false;
    chunked_seen = chunked_seen || last_is_chunked;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return last_is_chunked;
}

// An absolute-form target ("http://host/path") whose host is empty: RFC
// 9110 §4.2.1 has a recipient reject it, and it would replace Host with
// nothing.
bool empty_absolute_authority(std::string_view target) {
  const auto absolute = split_absolute_form(target);
  return absolute && absolute->authority.empty();
}

}  // namespace

std::optional<Rejection> check_request_head(const RequestHead& head, const Limits& limits) {
  if (head.target().size() > limits.max_uri_bytes) return Rejection{414, "uri_too_long"};
  if (empty_absolute_authority(head.target())) return Rejection{400, "bad_target"};
  std::size_t fields = 0;
  std::size_t hosts = 0;
  std::size_t transfer_encodings = 0;
  for (const auto& field : head) {
    ++fields;
    if (field.name() == beast_http::field::host) ++hosts;
    if (field.name() == beast_http::field::transfer_encoding) {
      ++transfer_encodings;
      if (!transfer_encoding_ok(field.value())) return Rejection{400, "bad_transfer_encoding"};
      // A coding before chunked (gzip, chunked) would be the upstream's to
      // undo and ours to forward as is; refused as Envoy does (RFC 9112
      // §6.1: 501), so what goes upstream is framed by chunked alone.
      if (!boost::beast::iequals(trimmed(field.value()), "chunked")) {
        return Rejection{501, "unsupported_transfer_coding"};
      }
    }
  }
  if (fields > limits.max_header_fields) return Rejection{431, "too_many_headers"};
  // A request the proxy's own fields would take past the limit is refused
  // here, not by the next sidecar's same check.
  if (fields + kMaxFieldsAddedUpstream > limits.max_header_fields &&
      fields + fields_added_upstream(head, limits.traced) > limits.max_header_fields) {
    return Rejection{431, "too_many_headers"};
  }
  if (hosts > 1) return Rejection{400, "duplicate_host"};
  if (hosts == 0 && head.version() >= 11) return Rejection{400, "missing_host"};
  if (hosts == 1 && head[beast_http::field::host].empty()) return Rejection{400, "missing_host"};
  if (transfer_encodings > 1) return Rejection{400, "bad_transfer_encoding"};
  return std::nullopt;
}

std::optional<Rejection> check_raw_request(std::string_view raw, const Limits& limits) {
  RequestParser parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  for (;;) {
    auto consumed = parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    used += consumed;
    if (ec == beast_http::error::need_more) {
      ec = {};
      break;
    }
    if (ec == beast_http::error::need_buffer) ec = {};  // a body piece: the next put goes on
    if (ec || parser.is_done() || consumed == 0) break;
  }
  if (ec) return rejection_for(ec);
  if (!parser.is_header_done()) return Rejection{400, "malformed"};
  return check_request_head(parser.head(), limits);
}

}  // namespace weft::proxy::http::http1
