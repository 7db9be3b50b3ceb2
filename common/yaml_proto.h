// YAML -> protobuf, strictly. The YAML tree is walked against the message's
// descriptor, so an unknown field, a wrong type or a bad enum name is reported
// with its file, line, column and field path ("proxy.yaml:12:5: listeners[0]:
// unknown field 'adress' in mesh.v1.Listener (did you mean 'address'?)").
// Values are set through protobuf reflection as the walk goes; durations
// accept "1.5s", "250ms" and "1m30s" (common/duration.h). Protobuf's JSON
// parser is deliberately not used: it is a large body of code that
// mesh-proxy would otherwise keep resident for one call at startup.
#pragma once

#include <google/protobuf/message.h>
#include <yaml-cpp/node/node.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weft::yaml {

struct ParseOptions {
  // Messages whose unknown fields are skipped instead of rejected: for
  // objects whose schema we mirror only in part (a Kubernetes Service has
  // far more fields than the mesh reads). Unset: every message is strict.
  std::function<bool(const google::protobuf::Descriptor&)> lenient;
  // Kubernetes objects: only the JSON names the API server accepts
  // ("backendRefs", not "backend_refs"), suggested as such, and errors
  // name the field path, not our protobuf types. Off: a field is found by
  // its proto name too (mesh-proxy's own config is written with those).
  bool json_names_only = false;
  // Fields of the real schema (the Gateway API's) that our messages do not
  // mirror yet: reported as "not supported yet" with the fields that are,
  // rather than as an unknown field with a did-you-mean.
  std::function<bool(const google::protobuf::Descriptor&, std::string_view field)> not_supported;
};

// Parses one YAML document in `text` into `out`; `source` names it in errors.
Result<void> parse_message(std::string_view text, std::string_view source,
                           google::protobuf::Message& out, const ParseOptions& options = {});

// Splits a multi-document stream ("---" separated); empty documents are
// dropped. Errors carry `source` and the line of the syntax error.
Result<std::vector<YAML::Node>> load_documents(std::string_view text, std::string_view source);

// Parses one already loaded document into `out`.
Result<void> parse_node(const YAML::Node& node, std::string_view source,
                        google::protobuf::Message& out, const ParseOptions& options = {});

// Reads `path` and parses it into `out`.
Result<void> load_message(const std::string& path, google::protobuf::Message& out);

// Reads a whole file; errors name the path.
Result<std::string> read_file(const std::string& path);

}  // namespace weft::yaml
