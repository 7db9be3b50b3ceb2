// A meshed workload as the request metrics label it, and x-weft-peer, the
// request field that tells a destination sidecar who called and which
// Service they called (the source sidecar knows; the destination's
// application port does not say).
//
// The value is `key=value` pairs joined by ';':
//   w=productpage;ns=default;app=productpage;ver=v1;sa=bookinfo;svc=reviews.default.svc.cluster.local
// Values are Kubernetes names and label values, so they are limited to
// [A-Za-z0-9._-] and 253 bytes, and a value that is not gets the whole
// field refused: what goes into a label is never an arbitrary string a
// client made up. Keys this proxy does not know are skipped, so a newer
// proxy may add some (upgrading proxies one by one keeps working).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace weft::proxy::metrics {

struct Workload {
  std::string name;
  std::string ns;
  std::string app;
  std::string version;
  std::string service_account;

  bool operator==(const Workload&) const = default;
  bool operator<(const Workload& other) const {  // for interning in a std::set
    return std::tie(name, ns, app, version, service_account) <
           std::tie(other.name, other.ns, other.app, other.version, other.service_account);
  }
};

inline constexpr std::string_view kPeerField = "x-weft-peer";
inline constexpr std::size_t kMaxPeerValueBytes = 253;

// What x-weft-peer says.
struct Peer {
  Workload source;
  std::string service;  // the destination Service, "name.namespace.svc.<domain>"

  bool operator==(const Peer&) const = default;
};

// Whether `value` may be a value of the field: 1 to kMaxPeerValueBytes of
// [A-Za-z0-9._-].
bool valid_peer_value(std::string_view value);

std::string encode_peer(const Peer& peer);
// None when the field is malformed: no w, ns or svc, an empty or invalid
// value, a pair without '='. app, ver and sa default to "unknown".
std::optional<Peer> decode_peer(std::string_view field);

}  // namespace weft::proxy::metrics
