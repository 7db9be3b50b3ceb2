// Loading a multi-document YAML stream ("---" separated) with yaml-cpp,
// safely: yaml-cpp 0.7's YAML::LoadAll never returns (and allocates until
// the process dies) when a document starts with a token its parser cannot
// place, such as a lone ',' (yaml-cpp issue 1040, fixed after 0.7, which
// Debian 12 ships). Call this instead of YAML::LoadAll.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string_view>
#include <vector>

#include "common/result.h"

namespace weft::yaml {

// Every document of the stream in order, empty ones included (as null
// nodes). A syntax error is "source:line:column: what".
Result<std::vector<YAML::Node>> load_all(std::string_view text, std::string_view source);

}  // namespace weft::yaml
