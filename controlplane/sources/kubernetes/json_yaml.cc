#include "controlplane/sources/kubernetes/json_yaml.h"

#include <yaml-cpp/yaml.h>

namespace weft::cp::kubernetes {

YAML::Node to_yaml(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object: {
      YAML::Node node(YAML::NodeType::Map);
      for (const auto& [key, item] : value.get_object()) node[std::string(key)] = to_yaml(item);
      return node;
    }
    case boost::json::kind::array: {
      YAML::Node node(YAML::NodeType::Sequence);
      for (const auto& item : value.get_array()) node.push_back(to_yaml(item));
      return node;
    }
    case boost::json::kind::string:
      return YAML::Node(std::string(value.get_string()));
    case boost::json::kind::int64:
      return YAML::Node(value.get_int64());
    case boost::json::kind::uint64:
      return YAML::Node(value.get_uint64());
    case boost::json::kind::double_:
      return YAML::Node(value.get_double());
    case boost::json::kind::bool_:
      return YAML::Node(value.get_bool());
    case boost::json::kind::null:
      break;
  }
  return YAML::Node(YAML::NodeType::Null);
}

}  // namespace weft::cp::kubernetes
