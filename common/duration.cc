#include "common/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace weft {
namespace {

using Nanos = std::int64_t;
constexpr Nanos kMax = std::numeric_limits<Nanos>::max();

// Longest units first so "ms" is not read as "m" followed by "s".
constexpr std::array<std::pair<std::string_view, Nanos>, 6> kUnits{{
    {"ms", 1'000'000},
    {"us", 1'000},
    {"ns", 1},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads "<digits>[.<digits>]<unit>" from the front of `text` and adds it to
// `total`; false on any malformation or overflow.
bool take_part(std::string_view& text, Nanos& total) {
  Nanos whole = 0;
  std::size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (whole > (kMax - 9) / 10) return false;
    whole = whole * 10 + (text[i] - '0');
  }
  bool had_whole = i > 0;
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    std::size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    fraction = text.substr(start, i - start);
  }
  if (!had_whole && fraction.empty()) return false;
  text.remove_prefix(i);
  for (const auto& [unit, scale] : kUnits) {
    if (!text.starts_with(unit)) continue;
    text.remove_prefix(unit.size());
    if (whole > kMax / scale) return false;
    Nanos part = whole * scale;
    // The fraction, digit by digit, to the unit's resolution.
    Nanos place = scale;
    for (char digit : fraction) {
      place /= 10;
      part += (digit - '0') * place;
    }
    if (part > kMax - total) return false;
    total += part;
    return true;
  }
  return false;
}

}  // namespace

google::protobuf::Duration to_proto(std::chrono::nanoseconds duration) {
  google::protobuf::Duration out;
  out.set_seconds(duration.count() / 1'000'000'000);
  out.set_nanos(static_cast<std::int32_t>(duration.count() % 1'000'000'000));
  return out;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  Nanos total = 0;
  while (!text.empty()) {
    if (!take_part(text, total)) return std::nullopt;
  }
  return std::chrono::nanoseconds(total);
}

}  // namespace weft
