// Finds what a binary protobuf message carries that this build's schema
// does not know: an unknown field, or an enum value outside its enum. Such
// a message came from a newer (or broken) peer; acting on the rest of it
// would silently ignore part of what the peer meant.
#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>

namespace weft::proto {

// Where the first unknown part of `message` is, in words, e.g.
// "config.clusters[2].outlier_detection: field 9" or
// "config.clusters[0].lb_policy: enum value 7"; nullopt when every part
// is known. Depth-first in field-number order.
std::optional<std::string> find_unknown(const google::protobuf::Message& message);

}  // namespace weft::proto
