// A fast 64-bit pseudo-random generator (SplitMix64) for what needs
// uniform bits but no secrecy: request ids, backoff jitter, load-balancer
// picks. A draw is a handful of multiplies and shifts, where
// std::mt19937_64 costs about ten times that (its 2.5 KB state is
// regenerated in bulk). Not for keys, tokens or anything an attacker must
// not predict.
#pragma once

#include <cstdint>
#include <limits>
#include <random>

namespace weft {

// SplitMix64's output function: two multiply-xorshift rounds that spread
// every input bit over every output bit. Turns a hash whose low bits are
// weak (FNV-1a's) into a uniform draw.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class FastRandom {
 public:
  using result_type = std::uint64_t;

  // Seeded from the operating system's entropy.
  FastRandom() : state_((std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}
  explicit FastRandom(std::uint64_t seed) : state_(seed) {}

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  // Steele, Lea and Flood's SplitMix64 step: a Weyl sequence scrambled by
  // two multiply-xorshift rounds (passes BigCrush; period 2^64).
  result_type operator()() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }

 private:
  std::uint64_t state_;
};

}  // namespace weft
