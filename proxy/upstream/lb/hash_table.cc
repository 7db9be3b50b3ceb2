#include "proxy/upstream/lb/hash_table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace weft::proxy::upstream::lb {

std::uint64_t stable_hash(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // splitmix64's finalizer: FNV's low bits alone vary too little.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

namespace {

constexpr std::uint64_t kOffsetSeed = 0x6d61676c65760001ULL;  // "maglev" 1
constexpr std::uint64_t kSkipSeed = 0x6d61676c65760002ULL;

class Maglev final : public HashTable {
 public:
  explicit Maglev(std::vector<std::uint32_t> slots) : slots_(std::move(slots)) {}
  std::size_t endpoint(std::uint64_t hash) const override { return slots_[hash % slots_.size()]; }
  std::size_t bytes() const override { return slots_.capacity() * sizeof(std::uint32_t); }

 private:
  std::vector<std::uint32_t> slots_;
};

class Ring final : public HashTable {
 public:
  struct Point {
    std::uint64_t hash;
    std::uint32_t endpoint;
  };
  explicit Ring(std::vector<Point> points) : points_(std::move(points)) {}
  std::size_t endpoint(std::uint64_t hash) const override {
    auto next = std::lower_bound(points_.begin(), points_.end(), hash,
                                 [](const Point& p, std::uint64_t h) { return p.hash < h; });
    return (next == points_.end() ? points_.front() : *next).endpoint;
  }
  std::size_t bytes() const override { return points_.capacity() * sizeof(Point); }

 private:
  std::vector<Point> points_;
};

}  // namespace

std::shared_ptr<const HashTable> make_maglev(const std::vector<std::string>& names,
                                             const std::vector<std::uint32_t>& weights,
                                             std::size_t size) {
  const auto n = names.size();
  std::vector<std::uint64_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    offset[i] = stable_hash(names[i], kOffsetSeed) % size;
    skip[i] = stable_hash(names[i], kSkipSeed) % (size - 1) + 1;
  }
  const double heaviest = *std::max_element(weights.begin(), weights.end());
  std::vector<double> credit(n, 0);
  constexpr auto kEmpty = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> slots(size, kEmpty);
  std::size_t filled = 0;
  // Each round every endpoint earns its weight over the heaviest's in
  // turns, and spends each whole turn on the next empty slot of its
  // permutation (offset + j * skip, which visits every slot: size is prime).
  while (filled < size) {
    for (std::size_t i = 0; i < n && filled < size; ++i) {
      credit[i] += weights[i] / heaviest;
      while (credit[i] >= 1.0 && filled < size) {
        credit[i] -= 1.0;
        std::size_t slot = 0;
        do {
          slot = (offset[i] + next[i] * skip[i]) % size;
          ++next[i];
        } while (slots[slot] != kEmpty);
        slots[slot] = static_cast<std::uint32_t>(i);
        ++filled;
      }
    }
  }
  return std::make_shared<Maglev>(std::move(slots));
}

std::shared_ptr<const HashTable> make_ring(const std::vector<std::string>& names,
                                           const std::vector<std::uint32_t>& weights,
                                           std::size_t points_per_weight) {
  // Points in proportion to weight over the lightest's, whatever the other
  // endpoints: one joining or leaving adds or takes only its own points.
  const double lightest = *std::min_element(weights.begin(), weights.end());
  std::vector<std::size_t> counts;
  std::size_t sum = 0;
  for (auto weight : weights) {
    counts.push_back(static_cast<std::size_t>(
        std::ceil(static_cast<double>(points_per_weight) * weight / lightest)));
    sum += counts.back();
  }
  if (sum > kMaxRingSize) {  // very uneven weights: scale down, at least one point each
    const double shrink = static_cast<double>(kMaxRingSize) / static_cast<double>(sum);
    sum = 0;
    for (auto& count : counts) {
      count =
          std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(count) * shrink));
      sum += count;
    }
  }
  std::vector<Ring::Point> points;
  points.reserve(sum);
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = 0; j < counts[i]; ++j) {
      points.push_back(
          {stable_hash(names[i] + "_" + std::to_string(j)), static_cast<std::uint32_t>(i)});
    }
  }
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.endpoint < b.endpoint;
  });
  return std::make_shared<Ring>(std::move(points));
}

}  // namespace weft::proxy::upstream::lb
