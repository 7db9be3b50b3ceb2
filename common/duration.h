// Durations as people write them in configuration: "1.5s", "250ms",
// "1m30s", "2h". This is protobuf JSON's Duration form ("1.5s") and the
// Gateway API's (GEP-2257: "1h30m", "500ms") in one grammar.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <chrono>
#include <optional>
#include <string_view>

namespace weft {

// One or more <number><unit> parts, unit one of h, m, s, ms, us, ns; the
// number may have a fraction ("1.5s"). Negative, unitless, empty or
// overflowing (beyond about 292 years) text gives nullopt.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// The same span as a google.protobuf.Duration (the configuration's type).
google::protobuf::Duration to_proto(std::chrono::nanoseconds duration);

}  // namespace weft
