// The key a consistent-hashing cluster (loadBalancer.type RingHash or
// Maglev) hashes each request by, from TrafficPolicy loadBalancer.hash: a
// header, a cookie, the client's IP or a query parameter. A request without
// the key gets no hash, and the balancer picks at random. A cookie the
// request lacks is made by the proxy: a fresh random value, hashed now and
// set on the response with the policy's TTL, so the client's next requests
// carry it and stay on the same endpoint. Pure: the caller passes the
// fresh value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/router/route.h"

namespace weft::proxy::layers::hash_key {

struct Key {
  enum class Source : std::uint8_t { kNone, kHeader, kCookie, kSourceIp, kQueryParameter };
  Source source = Source::kNone;
  std::string name;                    // of the header, cookie or query parameter
  std::chrono::seconds cookie_ttl{0};  // Max-Age of a cookie the proxy sets; 0: a session cookie
  std::string cookie_path = "/";

  bool operator==(const Key&) const = default;
};

struct RequestHash {
  std::optional<std::uint64_t> hash;  // none: the request lacks the key
  std::string set_cookie;             // a Set-Cookie value for the response, or empty
};

// `client_ip`: the downstream peer's address. `fresh`: a random value for
// a cookie the request lacks.
RequestHash hash_of(const Key& key, const router::RequestView& request, std::string_view client_ip,
                    std::uint64_t fresh);

// The value of cookie `name` in a Cookie header's value ("a=1; b=2").
std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name);
// The value of parameter `name` in a query ("a=1&b=2"; "a" alone is "").
std::optional<std::string_view> query_value(std::string_view query, std::string_view name);

}  // namespace weft::proxy::layers::hash_key
