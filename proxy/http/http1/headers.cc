#include "proxy/http/http1/headers.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace weft::proxy::http::http1 {

void to_origin_form(RequestHead& head) {
  std::string_view target = head.target();
  auto scheme_end = target.find("://");
  if (target.starts_with("/") || scheme_end == std::string_view::npos) return;
  auto rest = target.substr(scheme_end + 3);
  auto path = rest.find_first_of("/?");
  std::string authority(rest.substr(0, path));
  std::string origin;
  auto tail = path == std::string_view::npos ? std::string_view{} : rest.substr(path);
  if (!tail.starts_with('/')) origin.push_back('/');  // "http://h" or "http://h?q"
  origin.append(tail);
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

bool is_upgrade(const RequestHead& head) {
  auto connection = head.find(beast_http::field::connection);
  if (connection == head.end() || head.find(beast_http::field::upgrade) == head.end()) return false;
  return beast_http::token_list(connection->value()).exists("upgrade");
}

void strip_hop_by_hop(Fields& fields, bool upgrade) {
  // One pass to see whether any hop-by-hop field is there at all: most
  // messages carry none, and each named erase below is a tree lookup.
  bool present = false;
  for (const auto& field : fields) {
    switch (field.name()) {
      case beast_http::field::connection:
      case beast_http::field::keep_alive:
      case beast_http::field::proxy_connection:
      case beast_http::field::te:
      case beast_http::field::upgrade:
        present = true;
        break;
      default:
        break;
    }
    if (present) break;
  }
  if (!present && !upgrade) return;
  auto connection = fields.find(beast_http::field::connection);
  if (connection != fields.end()) {
    std::vector<std::string> named;
    for (auto token : beast_http::token_list(connection->value())) {
      if (upgrade && boost::beast::iequals(token, "upgrade")) continue;
      named.emplace_back(token);
    }
    for (const auto& name : named) {
      // Never let Connection strip the framing we rely on.
      if (boost::beast::iequals(name, "content-length") ||
          boost::beast::iequals(name, "transfer-encoding")) {
        continue;
      }
      fields.erase(name);
    }
    fields.erase(beast_http::field::connection);
  }
  fields.erase(beast_http::field::keep_alive);
  fields.erase(beast_http::field::proxy_connection);
  fields.erase(beast_http::field::te);
  if (upgrade) {
    fields.set(beast_http::field::connection, "upgrade");
  } else {
    fields.erase(beast_http::field::upgrade);
  }
}

void apply_edits(Fields& fields, const router::HeaderEdits& edits) {
  for (const auto& name : edits.remove) fields.erase(name);
  for (const auto& h : edits.set) fields.set(h.name, h.value);
  for (const auto& h : edits.add) fields.insert(h.name, h.value);
}

namespace {

void write_hex(char* out, std::uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[value & 0xf];
    value >>= 4;
  }
}

}  // namespace

std::string new_request_id(std::mt19937_64& rng) {
  // 8-4-4-4-12 hex digits from 128 random bits.
  auto hi = rng();
  auto lo = rng();
  std::string id(36, '-');
  write_hex(&id[0], hi >> 32, 8);
  write_hex(&id[9], hi >> 16, 4);
  write_hex(&id[14], hi, 4);
  write_hex(&id[19], lo >> 48, 4);
  write_hex(&id[24], lo, 12);
  return id;
}

}  // namespace weft::proxy::http::http1
