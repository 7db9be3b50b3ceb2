#include "proxy/upstream/lb/locality_balancer.h"

#include <utility>

namespace weft::proxy::upstream::lb {

LocalityBalancer::LocalityBalancer(Balancer all, std::vector<TierSet> tiers,
                                   std::uint32_t spillover_threshold, std::uint64_t seed)
    : all_(std::move(all)),
      tiers_(std::move(tiers)),
      spillover_threshold_(spillover_threshold),
      random_(seed) {
  if (tiers_.size() < 2) tiers_.clear();
  cumulative_.resize(tiers_.size());
}

void LocalityBalancer::recount_soon() {
  all_.recount_soon();
  for (auto& tier : tiers_) tier.balancer.recount_soon();
  reweigh_at_ = {};
}

void LocalityBalancer::reweigh(Clock::time_point now) {
  reweigh_at_ = now + Balancer::kRecount;
  std::array<TierCount, kTiers> counts{};
  for (auto& tier : tiers_) {
    counts[static_cast<std::size_t>(tier.tier)] = {tier.balancer.availability(now).healthy,
                                                   tier.balancer.size()};
  }
  const auto by_tier = tier_shares(counts, spillover_threshold_);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < tiers_.size(); ++i) {
    cumulative_[i] = sum += by_tier[static_cast<std::size_t>(tiers_[i].tier)];
  }
}

Choice LocalityBalancer::pick_tiered(Clock::time_point now, std::optional<std::uint64_t> hash) {
  auto choice = pick_in_tier(now, hash);
  // A tier's balancer gives an unhealthy endpoint only when every one of
  // its endpoints is out: since the last recount the whole tier went (a
  // health check's verdict, an ejection on another worker). Its share is
  // stale; count again now rather than send it requests for up to
  // kRecount.
  if (choice.tier && !all_.healthy(choice.endpoint, now)) {
    recount_soon();
    choice = pick_in_tier(now, hash);
  }
  return choice;
}

Choice LocalityBalancer::pick_in_tier(Clock::time_point now, std::optional<std::uint64_t> hash) {
  if (all_.availability(now).panic) return {all_.pick(now, hash), std::nullopt};
  if (now >= reweigh_at_) reweigh(now);
  if (cumulative_.back() == 0) return {all_.pick(now, hash), std::nullopt};
  // A key's hash keeps it in one tier; without one, a fresh draw. The
  // high bits: the tiers' tables read the low ones.
  const auto draw = (hash ? (*hash >> 32) : random_()) % cumulative_.back();
  std::size_t i = 0;
  while (draw >= cumulative_[i]) ++i;
  auto& tier = tiers_[i];
  return {tier.endpoints[tier.balancer.pick(now, hash)], tier.tier};
}

}  // namespace weft::proxy::upstream::lb
