#include "proxy/config/snapshot.h"

namespace weft::proxy::config {
namespace {

std::string describe(const TcpEndpoint& endpoint) {
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

}  // namespace

Result<void> check_replaceable(const Snapshot& current, const Snapshot& next) {
  constexpr std::string_view kRestart = "; restart the proxy to apply it";
  if (current.listeners.size() != next.listeners.size()) {
    return fail(ErrorCode::kInvalidArgument, "listeners added or removed{}", kRestart);
  }
  for (std::size_t i = 0; i < current.listeners.size(); ++i) {
    const auto& a = current.listeners[i];
    const auto& b = next.listeners[i];
    if (a.name != b.name || a.address != b.address) {
      return fail(ErrorCode::kInvalidArgument, "listener {} ({}) became {} ({}){}", a.name,
                  describe(a.address), b.name, describe(b.address), kRestart);
    }
    if (a.capture != b.capture || a.protocol != b.protocol ||
        (a.tls == nullptr) != (b.tls == nullptr)) {
      return fail(ErrorCode::kInvalidArgument,
                  "listener {} changed kind (capture, protocol or TLS){}", a.name, kRestart);
    }
  }
  if (current.admin_address != next.admin_address ||
      current.metrics_address != next.metrics_address ||
      current.health_address != next.health_address) {
    return fail(ErrorCode::kInvalidArgument, "admin, metrics or health address changed{}",
                kRestart);
  }
  return {};
}

}  // namespace weft::proxy::config
