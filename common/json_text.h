// JSON string literals of arbitrary bytes. What a client sends (a path, an
// authority) may be any bytes: a byte that is not part of well-formed UTF-8
// becomes U+FFFD, so one odd request cannot make a whole access log line
// or span batch something a JSON reader refuses.
#pragma once

#include <string>
#include <string_view>

namespace weft {

// Appends `text` to `out` as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view text);

// `text` as a JSON string, quotes included.
std::string json_string(std::string_view text);

}  // namespace weft
