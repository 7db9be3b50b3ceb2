#include "proxy/upstream/lb/locality.h"

#include <algorithm>

namespace weft::proxy::upstream::lb {

std::string_view tier_label(Tier tier) {
  switch (tier) {
    case Tier::kZone:
      return "zone";
    case Tier::kRegion:
      return "region";
    case Tier::kOther:
      return "other";
  }
  return "other";
}

Tier tier_of(const Locality& proxy, const Locality& endpoint) {
  const bool regions_agree =
      proxy.region.empty() || endpoint.region.empty() || proxy.region == endpoint.region;
  if (!proxy.zone.empty() && proxy.zone == endpoint.zone && regions_agree) return Tier::kZone;
  if (!proxy.region.empty() && proxy.region == endpoint.region) return Tier::kRegion;
  return Tier::kOther;
}

TierShares tier_shares(const std::array<TierCount, kTiers>& counts,
                       std::uint32_t spillover_threshold) {
  // Each tier's healthy share scaled by 100 / threshold, capped at all.
  TierShares scaled{};
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kTiers; ++i) {
    const auto& c = counts[i];
    if (c.total == 0 || spillover_threshold == 0) continue;
    const auto share = std::uint64_t{c.healthy} * kBasisPoints * 100 /
                       (std::uint64_t{c.total} * spillover_threshold);
    scaled[i] = static_cast<std::uint32_t>(std::min<std::uint64_t>(share, kBasisPoints));
    sum += scaled[i];
  }
  TierShares shares{};
  if (sum == 0) return shares;
  if (sum < kBasisPoints) {
    // Not enough between them: each its part of what they can take.
    std::uint32_t given = 0;
    for (std::size_t i = 0; i < kTiers; ++i) {
      shares[i] = static_cast<std::uint32_t>(scaled[i] * std::uint64_t{kBasisPoints} / sum);
      given += shares[i];
    }
    // Rounding's remainder goes to the nearest tier that takes any.
    for (auto& share : shares) {
      if (share > 0) {
        share += kBasisPoints - given;
        break;
      }
    }
    return shares;
  }
  std::uint32_t left = kBasisPoints;
  for (std::size_t i = 0; i < kTiers; ++i) {
    shares[i] = std::min(left, scaled[i]);
    left -= shares[i];
  }
  return shares;
}

}  // namespace weft::proxy::upstream::lb
