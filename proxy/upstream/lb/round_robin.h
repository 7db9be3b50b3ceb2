// Smooth weighted round robin: over any window of sum(weights) picks, each
// endpoint is chosen exactly `weight` times, interleaved rather than in runs
// (weights 5,1,1 give a a b a c a a, not a a a a a b c).
#pragma once

#include <cstdint>
#include <vector>

namespace weft::proxy::upstream::lb {

class RoundRobin {
 public:
  explicit RoundRobin(std::vector<std::uint32_t> weights);

  // Index of the next endpoint. Requires at least one endpoint.
  std::size_t next();
  std::size_t size() const { return weights_.size(); }

 private:
  std::vector<std::uint32_t> weights_;
  std::vector<std::int64_t> current_;
  std::int64_t total_ = 0;
};

}  // namespace weft::proxy::upstream::lb
