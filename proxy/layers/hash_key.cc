#include "proxy/layers/hash_key.h"

#include <fmt/format.h>

#include "proxy/upstream/lb/hash_table.h"

namespace weft::proxy::layers::hash_key {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The value of `name` among `separator`-separated name=value pairs.
std::optional<std::string_view> pair_value(std::string_view pairs, std::string_view name,
                                           char separator) {
  while (!pairs.empty()) {
    const auto end = pairs.find(separator);
    auto pair = trim(pairs.substr(0, end));
    pairs = end == std::string_view::npos ? std::string_view() : pairs.substr(end + 1);
    const auto equals = pair.find('=');
    if (trim(pair.substr(0, equals)) != name) continue;
    return equals == std::string_view::npos ? std::string_view() : trim(pair.substr(equals + 1));
  }
  return std::nullopt;
}

std::optional<std::uint64_t> hashed(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  return upstream::lb::stable_hash(*value);
}

}  // namespace

std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name) {
  return pair_value(cookies, name, ';');
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  return pair_value(query, name, '&');
}

RequestHash hash_of(const Key& key, const router::RequestView& request, std::string_view client_ip,
                    std::uint64_t fresh) {
  switch (key.source) {
    case Key::Source::kNone:
      return {};
    case Key::Source::kHeader:
      return {hashed(request.header(key.name)), {}};
    case Key::Source::kSourceIp:
      return {hashed(client_ip.empty() ? std::nullopt : std::optional(client_ip)), {}};
    case Key::Source::kQueryParameter:
      return {hashed(query_value(request.query(), key.name)), {}};
    case Key::Source::kCookie:
      break;
  }
  // Every Cookie field: an HTTP/2 client sends one per cookie.
  for (std::size_t i = 0;; ++i) {
    const auto cookies = request.nth_header("cookie", i);
    if (!cookies) break;
    if (auto value = cookie_value(*cookies, key.name)) return {hashed(value), {}};
  }
  const auto value = fmt::format("{:016x}", fresh);
  auto set_cookie = fmt::format("{}={}; Path={}; HttpOnly", key.name, value, key.cookie_path);
  if (key.cookie_ttl.count() > 0) set_cookie += fmt::format("; Max-Age={}", key.cookie_ttl.count());
  return {upstream::lb::stable_hash(value), std::move(set_cookie)};
}

}  // namespace weft::proxy::layers::hash_key
