// meshctl's output: aligned tables, and JSON re-rendered as YAML.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace weft::meshctl {

// Columns padded to their widest cell, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows);

// Block-style YAML for a JSON value (strings quoted when YAML would
// otherwise read them as something else).
std::string to_yaml(const boost::json::value& value);

// JSON indented by two spaces, one member or element per line (what
// `-o json` prints; jq reads it as well as the compact form).
std::string pretty_json(const boost::json::value& value);

enum class Format { kTable, kJson, kYaml };
bool parse_format(const std::string& text, Format& out);

}  // namespace weft::meshctl
