// Consistent hashing (TrafficPolicy loadBalancer.type RingHash, Maglev): a
// table from a request's hash to an endpoint, so requests with the same key
// (a header, a cookie, the source IP, a query parameter) reach the same
// endpoint, and an endpoint that joins or leaves moves few keys.
//
//   Maglev     a lookup table of kMaglevSize (a prime) slots that endpoints
//              fill in turns, each along its own permutation (Eisenbud et
//              al., NSDI 2016); weights give turns in proportion. O(1)
//              lookup, 4 bytes a slot (256 KiB); about 1/N of the keys
//              move when one of N endpoints leaves, a few more than ring
//              hash moves.
//   RingHash   a sorted ring of points, kRingPointsPerWeight for the
//              lightest endpoint and in proportion for the others (Karger
//              et al., as Ketama); a key belongs to the next point. O(log
//              points) lookup, 16 bytes a point; only a leaving endpoint's
//              keys move (its points alone go).
//
// Built once per endpoint set, from the endpoints' addresses (so every
// proxy builds the same table) when the configuration is translated, and
// shared read-only by every worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::proxy::upstream::lb {

// A stable 64-bit hash of `text` (FNV-1a, then a finalizer to spread the
// bits): the same on every proxy and every run.
std::uint64_t stable_hash(std::string_view text, std::uint64_t seed = 0);

class HashTable {
 public:
  virtual ~HashTable() = default;
  // The endpoint (index in the endpoint set it was built from) for `hash`.
  virtual std::size_t endpoint(std::uint64_t hash) const = 0;
  // The table's memory, for the benchmark and proxy-config.
  virtual std::size_t bytes() const = 0;
};

inline constexpr std::size_t kMaglevSize = 65'537;
inline constexpr std::size_t kRingPointsPerWeight = 100;
inline constexpr std::size_t kMaxRingSize = std::size_t{8} * 1'024 * 1'024;

// `names` (each endpoint's "address:port") and `weights` are indexed alike;
// at least one endpoint.
std::shared_ptr<const HashTable> make_maglev(const std::vector<std::string>& names,
                                             const std::vector<std::uint32_t>& weights,
                                             std::size_t size = kMaglevSize);
std::shared_ptr<const HashTable> make_ring(const std::vector<std::string>& names,
                                           const std::vector<std::uint32_t>& weights,
                                           std::size_t points_per_weight = kRingPointsPerWeight);

}  // namespace weft::proxy::upstream::lb
