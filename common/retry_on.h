// The retry conditions a route's retry policy may name (`retry_on`, the
// TrafficPolicy's `retryOn`), in one list for the control plane that
// validates them and the proxy that compiles them (to bit 1 << index).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace weft {

inline constexpr std::array<std::string_view, 10> kRetryOnConditions{"connect-failure",
                                                                     "refused-stream",
                                                                     "reset",
                                                                     "5xx",
                                                                     "gateway-error",
                                                                     "retriable-status-codes",
                                                                     "cancelled",
                                                                     "deadline-exceeded",
                                                                     "resource-exhausted",
                                                                     "unavailable"};

inline std::optional<std::size_t> retry_on_index(std::string_view name) {
  for (std::size_t i = 0; i < kRetryOnConditions.size(); ++i) {
    if (kRetryOnConditions[i] == name) return i;
  }
  return std::nullopt;
}

}  // namespace weft
