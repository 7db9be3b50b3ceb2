#include "proxy/upstream/lb/balancer.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace weft::proxy::upstream::lb {
namespace {

constexpr double kSlowStartFloor = 0.1;  // a joining endpoint's first share of its weight
constexpr int kSlowStartDraws = 4;       // draws before a joining endpoint is taken anyway
constexpr int kEjectedDraws = 3;         // draws again before looking for one not ejected
constexpr int kRehashes = 8;             // hashes of a key tried before a random draw

}  // namespace

double slow_start_share(Clock::time_point joined, Clock::time_point now, Clock::duration window) {
  if (window <= Clock::duration::zero() || now >= joined + window) return 1.0;
  if (now <= joined) return kSlowStartFloor;
  const double ramp = std::chrono::duration<double>(now - joined) / window;
  return kSlowStartFloor + (1.0 - kSlowStartFloor) * ramp;
}

Lease::Lease(EndpointLoad& load, const PeakEwmaSettings* timing, Clock::time_point started)
    : load_(&load), timing_(timing), started_(started) {
  ++load_->in_flight;
}

Lease::Lease(Lease&& other) noexcept
    : load_(std::exchange(other.load_, nullptr)),
      timing_(std::exchange(other.timing_, nullptr)),
      started_(other.started_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    load_ = std::exchange(other.load_, nullptr);
    timing_ = std::exchange(other.timing_, nullptr);
    started_ = other.started_;
  }
  return *this;
}

void Lease::answered(bool failed, Clock::time_point at) {
  if (load_ == nullptr || timing_ == nullptr) return;
  observe(*load_, at - started_, failed, at, *timing_);
  timing_ = nullptr;
}

void Lease::release() {
  if (load_ == nullptr) return;
  // A lease that ends without an answer (the client left) teaches nothing.
  --load_->in_flight;
  load_ = nullptr;
}

Balancer::Balancer(Policy policy, std::vector<std::uint32_t> weights,
                   std::vector<std::shared_ptr<EndpointLoad>> loads, std::uint64_t seed,
                   std::vector<const outlier::EndpointHealth*> health,
                   std::shared_ptr<const HashTable> table)
    : policy_(policy),
      weights_(weights),
      loads_(std::move(loads)),
      health_(std::move(health)),
      table_(std::move(table)),
      round_robin_(std::move(weights)),
      random_(seed) {
  const bool equal =
      std::adjacent_find(weights_.begin(), weights_.end(), std::not_equal_to<>()) == weights_.end();
  if (!equal) {
    std::uint64_t sum = 0;
    for (auto w : weights_) cumulative_.push_back(sum += w);
  }
  availability_.healthy = weights_.size();
  if (health_.empty()) recount_at_ = Clock::time_point::max();
  // Workers and proxies start their turns at different endpoints.
  if (!weights_.empty()) next_ = random_() % weights_.size();
  if (policy_.slow_start > Clock::duration::zero()) {
    for (const auto& load : loads_) {
      if (load->joined != Clock::time_point{}) {
        slow_start_until_ = std::max(slow_start_until_, load->joined + policy_.slow_start);
      }
    }
  }
}

std::size_t Balancer::draw_by_weight() {
  if (policy_.algorithm == Algorithm::kRoundRobin) {
    if (!cumulative_.empty()) return round_robin_.next();  // O(endpoints): weights differ
    next_ = next_ + 1 < weights_.size() ? next_ + 1 : 0;   // equal weights: take turns
    return next_;
  }
  if (cumulative_.empty()) return random_() % weights_.size();
  const auto target = random_() % cumulative_.back();
  return std::upper_bound(cumulative_.begin(), cumulative_.end(), target) - cumulative_.begin();
}

void Balancer::recount(Clock::time_point now) {
  recount_at_ = now + kRecount;
  std::size_t healthy = 0;
  for (const auto* health : health_) healthy += health->healthy(now) ? 1 : 0;
  availability_ = {healthy, in_panic(healthy, health_.size(), policy_.panic_threshold)};
}

std::size_t Balancer::draw(Clock::time_point now) {
  auto chosen = draw_weighted(now);
  if (!ejected(chosen, now) || availability(now).panic) return chosen;
  for (int i = 0; i < kEjectedDraws; ++i) {
    chosen = draw_weighted(now);
    if (!ejected(chosen, now)) return chosen;
  }
  // Mostly ejected: the next endpoint in, from a random start.
  const auto start = random_() % weights_.size();
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    const auto endpoint = (start + i) % weights_.size();
    if (!ejected(endpoint, now)) return endpoint;
  }
  return chosen;  // all ejected: they all share the load
}

std::size_t Balancer::draw_weighted(Clock::time_point now) {
  auto chosen = draw_by_weight();
  if (now >= slow_start_until_) return chosen;
  for (int i = 1; i < kSlowStartDraws; ++i) {
    const double share = slow_start_share(loads_[chosen]->joined, now, policy_.slow_start);
    // A uniform draw in [0, 1): the share of the weight this draw keeps.
    if (share >= 1.0 || static_cast<double>(random_() >> 11) * 0x1.0p-53 < share) break;
    chosen = draw_by_weight();
  }
  return chosen;
}

std::size_t Balancer::better(std::size_t a, std::size_t b, Clock::time_point now) const {
  const auto& la = *loads_[a];
  const auto& lb = *loads_[b];
  if (policy_.algorithm == Algorithm::kLeastRequest) {
    // Fewer in flight per weight, compared as products (no division); a
    // tie goes to the first draw, so idle endpoints share by weight.
    return std::uint64_t{la.in_flight} * weights_[b] <= std::uint64_t{lb.in_flight} * weights_[a]
               ? a
               : b;
  }
  return cost(la, weights_[a], now, ewma_) <= cost(lb, weights_[b], now, ewma_) ? a : b;
}

std::optional<std::size_t> Balancer::lookup(std::uint64_t hash, Clock::time_point now) {
  for (int i = 0; i < kRehashes; ++i) {
    const auto endpoint = table_->endpoint(hash);
    if (!ejected(endpoint, now) || availability(now).panic) return endpoint;
    // The same next hash for every request of this key: they move together.
    hash = stable_hash(std::string_view(reinterpret_cast<const char*>(&hash), sizeof hash), i);
  }
  return std::nullopt;
}

std::size_t Balancer::pick(Clock::time_point now, std::optional<std::uint64_t> hash) {
  if (hash && table_) {
    if (auto endpoint = lookup(*hash, now)) return *endpoint;
  }
  const auto first = draw(now);
  if (weights_.size() == 1 || policy_.algorithm == Algorithm::kRoundRobin ||
      policy_.algorithm == Algorithm::kRandom || is_hashing(policy_.algorithm)) {
    return first;
  }
  // Two choices: a second draw distinct from the first (a few tries, then
  // the next endpoint, so heavy weights cannot make this loop long).
  auto second = draw(now);
  for (int i = 0; i < 3 && second == first; ++i) second = draw(now);
  if (second == first) {
    second = (first + 1) % weights_.size();
    if (ejected(second, now) && !availability_.panic) return first;
  }
  return better(first, second, now);
}

}  // namespace weft::proxy::upstream::lb
