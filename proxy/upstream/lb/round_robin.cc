#include "proxy/upstream/lb/round_robin.h"

namespace weft::proxy::upstream::lb {

RoundRobin::RoundRobin(std::vector<std::uint32_t> weights)
    : weights_(std::move(weights)), current_(weights_.size(), 0) {
  for (auto w : weights_) total_ += w;
}

std::size_t RoundRobin::next() {
  std::size_t best = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    current_[i] += weights_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= total_;
  return best;
}

}  // namespace weft::proxy::upstream::lb
