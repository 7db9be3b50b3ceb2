#include "proxy/http/http1/headers.h"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cstring>

namespace weft::proxy::http::http1 {

std::optional<AbsoluteForm> split_absolute_form(std::string_view target) {
  if (target.starts_with('/')) return std::nullopt;
  const auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const auto after_scheme = target.substr(scheme_end + 3);
  const auto end = std::min(after_scheme.find_first_of("/?#"), after_scheme.size());
  return AbsoluteForm{after_scheme.substr(0, end), after_scheme.substr(end)};
}

void to_origin_form(RequestHead& head) {
  const auto absolute = split_absolute_form(head.target());
  if (!absolute) return;
  std::string authority(absolute->authority);
  std::string origin;
  if (!absolute->rest.starts_with('/')) origin.push_back('/');  // "http://h" or "http://h?q"
  origin.append(absolute->rest);
  head.set(beast_http::field::host, authority);
  head.target(origin);
}

RequestView::RequestView(const RequestHead& head) : head_(head) {
  std::string_view target = head.target();
  auto host = head.find(beast_http::field::host);
  if (host != head.end()) authority_ = host->value();
  auto q = target.find('?');
  path_ = target.substr(0, q);
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
}

std::optional<std::string_view> RequestView::header(std::string_view name) const {
  auto found = head_.find(name);
  if (found == head_.end()) return std::nullopt;
  return found->value();
}

std::optional<std::string_view> RequestView::nth_header(std::string_view name,
                                                        std::size_t index) const {
  for (const auto& field : head_) {
    if (!boost::beast::iequals(field.name_string(), name)) continue;
    if (index == 0) return field.value();
    --index;
  }
  return std::nullopt;
}

bool is_upgrade(const RequestHead& head) {
  auto connection = head.find(beast_http::field::connection);
  if (connection == head.end() || head.find(beast_http::field::upgrade) == head.end()) {
    return false;
  }
  return beast_http::token_list(connection->value()).exists("upgrade");
}

namespace {

bool always_hop_by_hop(beast_http::field name) {
  switch (name) {
    case beast_http::field::connection:
    case beast_http::field::keep_alive:
    case beast_http::field::proxy_connection:
    case beast_http::field::te:
    case beast_http::field::upgrade:
      return true;
    default:
      return false;
  }
}

// The extra fields a Connection header names ("Connection: close, x-foo"):
// copied, because the Connection field itself is erased with them. Names
// already hop-by-hop, and the framing we rely on, are left out.
struct NamedField {
  beast_http::field known;  // unknown: compare `name`
  std::string name;
  bool matches(const Field& field) const {
    return known != beast_http::field::unknown ? field.name() == known
                                               : boost::beast::iequals(name, field.name_string());
  }
};

std::vector<NamedField> named_by_connection(const Fields& fields) {
  std::vector<NamedField> named;
  for (const auto& field : fields) {
    if (field.name() != beast_http::field::connection) continue;
    for (auto token : beast_http::token_list(field.value())) {
      // The usual options, not field names: skip the name lookup.
      if (boost::beast::iequals(token, "keep-alive") || boost::beast::iequals(token, "close")) {
        continue;
      }
      auto name = beast_http::string_to_field(token);
      if (always_hop_by_hop(name) || name == beast_http::field::content_length ||
          name == beast_http::field::transfer_encoding) {
        continue;
      }
      named.push_back({name, std::string(token)});
    }
  }
  return named;
}

}  // namespace

void strip_hop_by_hop(Fields& fields, bool upgrade) {
  const auto named = named_by_connection(fields);
  fields.erase_if([&](const Field& field) {
    bool hop =
        always_hop_by_hop(field.name()) && !(upgrade && field.name() == beast_http::field::upgrade);
    for (const auto& n : named) hop = hop || n.matches(field);
    return hop;
  });
  if (upgrade) fields.set(beast_http::field::connection, "upgrade");  // Upgrade itself stays
}

void normalize_framing(Fields& fields, std::optional<std::uint64_t> content_length, bool chunked) {
  if (chunked) {
    fields.erase(beast_http::field::content_length);
    fields.set(beast_http::field::transfer_encoding, "chunked");
  } else if (content_length) {
    fields.erase(beast_http::field::content_length);
    fields.set(beast_http::field::content_length, std::to_string(*content_length));
  }
}

void apply_edits(Fields& fields, const router::HeaderEdits& edits) {
  for (const auto& name : edits.remove) fields.erase(name);
  for (const auto& h : edits.set) fields.set(h.name, h.value);
  for (const auto& h : edits.add) fields.insert(h.name, h.value);
}

void set_chunked(Fields& fields, bool chunked) {
  std::string codings;
  for (const auto& field : fields) {
    if (field.name() != beast_http::field::transfer_encoding) continue;
    for (auto token : beast_http::token_list(field.value())) {
      if (boost::beast::iequals(token, "chunked")) continue;
      if (!codings.empty()) codings += ", ";
      codings.append(token.data(), token.size());
    }
  }
  if (chunked) codings += codings.empty() ? "chunked" : ", chunked";
  if (codings.empty()) {
    fields.erase(beast_http::field::transfer_encoding);
  } else {
    fields.set(beast_http::field::transfer_encoding, codings);
  }
}

void finish_upstream_head(RequestHead& head, std::optional<std::uint64_t> content_length,
                          bool chunked, std::string_view default_authority) {
  normalize_framing(head, content_length, chunked);
  if (head.count(beast_http::field::host) == 0) {
    head.insert(beast_http::field::host, default_authority);
  }
  head.version(11);
}

bool frame_response(ResponseHead& head, unsigned client_version, const ResponseFraming& read) {
  // One pass over the fields; the common response (one Content-Length of
  // digits, no Transfer-Encoding) is left as it came.
  std::size_t lengths = 0;
  bool digits = true;
  bool coded = false;
  for (const auto& field : head) {
    if (field.name() == beast_http::field::content_length) {
      ++lengths;
      digits =
          digits && std::ranges::all_of(field.value(), [](char c) { return c >= '0' && c <= '9'; });
    } else if (field.name() == beast_http::field::transfer_encoding) {
      coded = true;
    }
  }
  if (coded) {
    if (lengths > 0) head.erase(beast_http::field::content_length);  // RFC 9112 §6.3
  } else if (read.content_length && (lengths != 1 || !digits)) {
    head.set(beast_http::field::content_length, std::to_string(*read.content_length));
  }
  if (client_version < 11) {
    head.erase(beast_http::field::transfer_encoding);
    return false;
  }
  if (!read.has_body) {
    // The fields say what a body would have had; none follows.
    if (coded) set_chunked(head, read.chunked);
    return false;
  }
  // Coded without chunked, the parser still found where the body ends (a
  // Content-Length, or the close): the client is told with chunked.
  const bool chunked = read.chunked || read.close_delimited || coded;
  if (chunked) set_chunked(head, true);
  return chunked;
}

namespace {

// The two hex digits of each byte value: one table load per byte.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (std::size_t byte = 0; byte < 256; ++byte) {
    pairs[2 * byte] = kHex[byte >> 4];
    pairs[2 * byte + 1] = kHex[byte & 0xf];
  }
  return pairs;
}();

// Writes `bytes` bytes of `value` (most significant first) as hex digits.
void write_hex(char* out, std::uint64_t value, std::size_t bytes) {
  for (std::size_t i = bytes; i-- > 0;) {
    std::memcpy(out + 2 * i, &kHexPairs[2 * (value & 0xff)], 2);
    value >>= 8;
  }
}

}  // namespace

RequestId new_request_id(FastRandom& rng) {
  // 8-4-4-4-12 hex digits from 128 random bits.
  auto hi = rng();
  auto lo = rng();
  RequestId id;
  id.text.fill('-');
  write_hex(&id.text[0], hi >> 32, 4);
  write_hex(&id.text[9], hi >> 16, 2);
  write_hex(&id.text[14], hi, 2);
  write_hex(&id.text[19], lo >> 48, 2);
  write_hex(&id.text[24], lo, 6);
  return id;
}

}  // namespace weft::proxy::http::http1
