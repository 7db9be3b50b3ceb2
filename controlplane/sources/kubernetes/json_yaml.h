// JSON from the API server as a YAML tree, so objects from Kubernetes are
// read by exactly the code that reads manifest files (model::parse_object).
#pragma once

#include <yaml-cpp/node/node.h>

#include <boost/json/value.hpp>

namespace weft::cp::kubernetes {

YAML::Node to_yaml(const boost::json::value& value);

}  // namespace weft::cp::kubernetes
