// Kubernetes objects as JSON, read from and written as YAML: what kubectl
// does with manifests. Reading resolves plain scalars as YAML 1.2's core
// schema does (quoted scalars stay strings); writing quotes a string only
// when YAML would read it back as something else.
#pragma once

#include <yaml-cpp/node/node.h>

#include <boost/json/value.hpp>
#include <string>

#include "common/result.h"

namespace weft::json_yaml {

// A YAML node as JSON; errors name what is not representable (an alias
// loop, a non-scalar key).
Result<boost::json::value> to_json(const YAML::Node& node);

// Block-style YAML for a JSON value, ending in a newline.
std::string to_yaml(const boost::json::value& value);

}  // namespace weft::json_yaml
