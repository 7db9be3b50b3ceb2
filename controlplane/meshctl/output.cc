#include "controlplane/meshctl/output.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "common/json_yaml.h"

namespace weft::meshctl {

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

std::string to_yaml(const boost::json::value& value) { return json_yaml::to_yaml(value); }

namespace {

void pretty(const boost::json::value& value, std::size_t depth, std::string& out) {
  const std::string indent(2 * (depth + 1), ' ');
  const std::string closing(2 * depth, ' ');
  if (const auto* o = value.if_object(); o != nullptr && !o->empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [key, member] : *o) {
      out += first ? "" : ",\n";
      first = false;
      out += indent + boost::json::serialize(boost::json::value(key)) + ": ";
      pretty(member, depth + 1, out);
    }
    out += "\n" + closing + "}";
  } else if (const auto* a = value.if_array(); a != nullptr && !a->empty()) {
    out += "[\n";
    for (std::size_t i = 0; i < a->size(); ++i) {
      out += (i == 0 ? "" : ",\n") + indent;
      pretty((*a)[i], depth + 1, out);
    }
    out += "\n" + closing + "]";
  } else {
    out += boost::json::serialize(value);  // scalars, {} and []
  }
}

}  // namespace

std::string pretty_json(const boost::json::value& value) {
  std::string out;
  pretty(value, 0, out);
  return out + "\n";
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
