#include "proxy/metrics/workload.h"

#include <algorithm>
#include <array>
#include <utility>

namespace weft::proxy::metrics {
bool valid_peer_value(std::string_view value) {
  if (value.empty() || value.size() > kMaxPeerValueBytes) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

namespace {

constexpr std::string_view kUnknown = "unknown";

}  // namespace

std::string encode_peer(const Peer& peer) {
  const auto& w = peer.source;
  const std::array<std::pair<std::string_view, const std::string*>, 6> pairs = {{
      {"w", &w.name},
      {"ns", &w.ns},
      {"app", &w.app},
      {"ver", &w.version},
      {"sa", &w.service_account},
      {"svc", &peer.service},
  }};
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (value->empty()) continue;
    if (!out.empty()) out += ';';
    out.append(key).append("=").append(*value);
  }
  return out;
}

std::optional<Peer> decode_peer(std::string_view field) {
  Peer peer;
  auto& w = peer.source;
  while (!field.empty()) {
    auto end = std::min(field.find(';'), field.size());
    auto pair = field.substr(0, end);
    field.remove_prefix(std::min(end + 1, field.size()));
    auto equals = pair.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    auto key = pair.substr(0, equals);
    auto value = pair.substr(equals + 1);
    if (!valid_peer_value(value)) return std::nullopt;
    std::string* into = key == "w"     ? &w.name
                        : key == "ns"  ? &w.ns
                        : key == "app" ? &w.app
                        : key == "ver" ? &w.version
                        : key == "sa"  ? &w.service_account
                        : key == "svc" ? &peer.service
                                       : nullptr;
    if (into != nullptr) into->assign(value);
  }
  if (w.name.empty() || w.ns.empty() || peer.service.empty()) return std::nullopt;
  for (auto* optional : {&w.app, &w.version, &w.service_account}) {
    if (optional->empty()) optional->assign(kUnknown);
  }
  return peer;
}

}  // namespace weft::proxy::metrics
