#include "controlplane/meshctl/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>

namespace weft::meshctl {
namespace {

void emit(YAML::Emitter& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.get_object()) {
        out << YAML::Key << std::string(key) << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      return;
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : value.get_array()) emit(out, item);
      out << YAML::EndSeq;
      return;
    case boost::json::kind::string:
      out << YAML::DoubleQuoted << std::string(value.get_string());
      return;
    case boost::json::kind::null:
      out << YAML::Null;
      return;
    default:
      out << boost::json::serialize(value);  // numbers and booleans as JSON writes them
  }
}

}  // namespace

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string to_yaml(const boost::json::value& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

bool parse_format(const std::string& text, Format& out) {
  static const std::map<std::string, Format> kFormats{
      {"table", Format::kTable}, {"json", Format::kJson}, {"yaml", Format::kYaml}};
  auto it = kFormats.find(text);
  if (it == kFormats.end()) return false;
  out = it->second;
  return true;
}

}  // namespace weft::meshctl
