// FNV-1a, 64 bits: a fast change detector for bytes (content versions,
// manifest file signatures). Not for anything an attacker chooses.
#pragma once

#include <cstdint>
#include <string_view>

namespace weft {

inline std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace weft
