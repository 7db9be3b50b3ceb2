// Locality-aware balancing's decisions, pure: how near each endpoint is to
// the proxy (its tier), and what share of requests each tier takes given
// how many of its endpoints are healthy.
//
// Tiers, nearest first: the proxy's zone, the rest of its region, anywhere
// else (an endpoint of unknown locality is "anywhere"). A tier takes every
// request while at least `spillover_threshold` percent of its endpoints are
// healthy; below that its share is its healthy percent scaled by
// 100 / spillover_threshold, and the rest spills to the next tier, which
// is scaled the same way, and so on: Envoy's priority load with an
// overprovisioning factor of 100 / threshold (1.43 at the default 70). When
// all tiers together cannot take every request, each takes its scaled
// share of what they can. Traffic comes back as endpoints recover.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::proxy::upstream::lb {

struct Locality {
  std::string region;  // empty: unknown
  std::string zone;

  bool known() const { return !region.empty() || !zone.empty(); }
  bool operator==(const Locality&) const = default;
};

enum class Tier : std::uint8_t { kZone, kRegion, kOther };
inline constexpr std::size_t kTiers = 3;

// "zone", "region", "other": the metrics' label.
std::string_view tier_label(Tier tier);

// How near `endpoint` is to a proxy at `proxy`. A zone matches when its
// name does and the regions do not differ (either may be unknown).
Tier tier_of(const Locality& proxy, const Locality& endpoint);

struct TierCount {
  std::size_t healthy = 0;
  std::size_t total = 0;
};

// The share of requests each tier takes, in basis points (of kBasisPoints);
// all zero when no tier has a healthy endpoint. `spillover_threshold` is a
// percent, 1 to 100.
inline constexpr std::uint32_t kBasisPoints = 10'000;
using TierShares = std::array<std::uint32_t, kTiers>;
TierShares tier_shares(const std::array<TierCount, kTiers>& counts,
                       std::uint32_t spillover_threshold);

}  // namespace weft::proxy::upstream::lb
