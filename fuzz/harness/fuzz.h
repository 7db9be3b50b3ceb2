// What every harness shares. A harness is one input surface: libFuzzer
// calls LLVMFuzzerTestOneInput with each input, and a crash, a sanitizer
// report or a failed FUZZ_EXPECT is a finding. FUZZ_EXPECT states what the
// code promises for every input (a property), not what one input gives.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace weft::fuzz {

inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
  std::abort();
}

// Splits an input into parts at `separator`, so one input can hold a
// sequence (several discovery responses, several chunks of a stream).
template <class OnPart>
void for_each_part(std::string_view input, std::string_view separator, OnPart&& on_part) {
  for (;;) {
    auto at = input.find(separator);
    on_part(input.substr(0, at));
    if (at == std::string_view::npos) return;
    input.remove_prefix(at + separator.size());
  }
}

}  // namespace weft::fuzz

#define FUZZ_EXPECT(condition) \
  ((condition) ? (void)0 : ::weft::fuzz::property_failed(#condition, __FILE__, __LINE__))
