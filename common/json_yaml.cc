#include "common/json_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <string_view>

namespace weft::json_yaml {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A plain scalar as YAML 1.2's core schema reads it.
boost::json::value plain_scalar(const std::string& text) {
  auto folded = lower(text);
  if (text.empty() || text == "~" || folded == "null") return nullptr;
  if (folded == "true") return true;
  if (folded == "false") return false;
  const char* end = text.data() + text.size();
  std::int64_t integer = 0;
  if (auto [ptr, ec] = std::from_chars(text.data(), end, integer);
      ec == std::errc() && ptr == end) {
    return integer;
  }
  double number = 0;
  bool looks_numeric = text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (auto [ptr, ec] = std::from_chars(text.data(), end, number);
      looks_numeric && ec == std::errc() && ptr == end) {
    return number;
  }
  return boost::json::string(text);
}

// Whether a string written plain could be read back as a non-string: YAML
// 1.1 words (kubectl's parser still knows yes/no/on/off), numbers, null.
bool needs_quotes(std::string_view text) {
  if (text.empty()) return true;
  static constexpr std::string_view kWords[] = {"true", "false", "yes", "no",   "on",
                                                "off",  "y",     "n",   "null", "~"};
  auto folded = lower(text);
  if (std::find(std::begin(kWords), std::end(kWords), folded) != std::end(kWords)) return true;
  char first = text.front();
  return (first >= '0' && first <= '9') || first == '+' || first == '-' || first == '.';
}

void emit(YAML::Emitter& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object:
      if (value.get_object().empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.get_object()) {
        out << YAML::Key << std::string(key) << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      return;
    case boost::json::kind::array:
      if (value.get_array().empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : value.get_array()) emit(out, item);
      out << YAML::EndSeq;
      return;
    case boost::json::kind::string: {
      std::string text(value.get_string());
      if (needs_quotes(text)) out << YAML::DoubleQuoted;
      out << text;  // yaml-cpp quotes by itself what cannot be plain
      return;
    }
    case boost::json::kind::null:
      out << YAML::Null;
      return;
    default:
      out << boost::json::serialize(value);  // numbers and booleans as JSON writes them
  }
}

}  // namespace

Result<boost::json::value> to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object object;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return fail(ErrorCode::kInvalidArgument, "line {}: a mapping key must be a scalar",
                      entry.first.Mark().line + 1);
        }
        auto item = to_json(entry.second);
        if (!item) return item;
        object[entry.first.Scalar()] = std::move(*item);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array array;
      for (const auto& entry : node) {
        auto item = to_json(entry);
        if (!item) return item;
        array.push_back(std::move(*item));
      }
      return array;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags plain scalars "?" and quoted or block ones "!".
      if (node.Tag() == "?") return plain_scalar(node.Scalar());
      return boost::json::string(node.Scalar());
    default:
      return nullptr;
  }
}

std::string to_yaml(const boost::json::value& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace weft::json_yaml
