// YAML -> protobuf, strictly. The YAML tree is walked against the message's
// descriptor, so an unknown field, a wrong type or a bad enum name is reported
// with its file, line, column and field path ("proxy.yaml:12:5: listeners[0]:
// unknown field 'adress' in mesh.v1.Listener (did you mean 'address'?)").
// The typed tree is then rendered as protobuf JSON and parsed by protobuf's
// own JSON parser, which also handles well-known types ("1.5s" durations).
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace weft::yaml {

// Parses one YAML document in `text` into `out`; `source` names it in errors.
Result<void> parse_message(std::string_view text, std::string_view source,
                           google::protobuf::Message& out);

// Reads `path` and parses it into `out`.
Result<void> load_message(const std::string& path, google::protobuf::Message& out);

// Reads a whole file; errors name the path.
Result<std::string> read_file(const std::string& path);

}  // namespace weft::yaml
