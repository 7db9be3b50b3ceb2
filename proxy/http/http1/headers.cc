#include "proxy/http/http1/headers.h"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace weft::proxy::http::http1 {

RequestView::RequestView(const RequestHead& head) : head_(head) {
  std::string_view target = head.target();
  if (!target.starts_with("/")) {  // absolute-form: scheme://authority/path
    auto scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      auto rest = target.substr(scheme_end + 3);
      auto slash = rest.find_first_of("/?");
      authority_ = rest.substr(0, slash);
      target = slash == std::string_view::npos ? "/" : rest.substr(slash);
    }
  }
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
  auto connection = fields.find(beast_http::field::connection);
  if (connection != fields.end()) {
    std::vector<std::string> named;
    for (auto token : beast_http::token_list(connection->value())) {
      if (upgrade && boost::iequals(token, "upgrade")) continue;
      named.emplace_back(token);
    }
    for (const auto& name : named) {
      // Never let Connection strip the framing we rely on.
      if (boost::iequals(name, "content-length") || boost::iequals(name, "transfer-encoding")) {
        continue;
      }
      fields.erase(name);
    }
    fields.erase(beast_http::field::connection);
  }
  fields.erase(beast_http::field::keep_alive);
  fields.erase("proxy-connection");
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

std::string new_request_id(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  auto hi = rng();
  auto lo = rng();
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    auto& word = nibble < 16 ? hi : lo;
    id[i] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xf];
    ++nibble;
  }
  return id;
}

}  // namespace weft::proxy::http::http1
