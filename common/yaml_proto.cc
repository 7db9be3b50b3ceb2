#include "common/yaml_proto.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

namespace weft::yaml {
namespace {

namespace pb = google::protobuf;
using FieldType = pb::FieldDescriptor::CppType;

// Carries the source name and the field path for error messages.
struct Walk {
  std::string_view source;

  tl::unexpected<Error> error(const YAML::Node& node, const std::string& path,
                              const std::string& what) const {
    auto mark = node.Mark();
    std::string where = path.empty() ? "" : path + ": ";
    return fail(ErrorCode::kInvalidArgument, "{}:{}:{}: {}{}", source, mark.line + 1,
                mark.column + 1, where, what);
  }

  Result<boost::json::value> message(const YAML::Node& node, const pb::Descriptor& type,
                                     const std::string& path) const;
  Result<boost::json::value> field(const YAML::Node& node, const pb::FieldDescriptor& field,
                                   const std::string& path) const;
  Result<boost::json::value> scalar(const YAML::Node& node, const pb::FieldDescriptor& field,
                                    const std::string& path) const;
};

bool parses_number(const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "did you mean 'x'?" for a near miss, else the list of valid fields.
std::string suggestion(std::string_view key, const pb::Descriptor& type) {
  std::string best;
  std::size_t best_distance = 3;  // only suggest close misspellings
  std::vector<std::string> names;
  for (int i = 0; i < type.field_count(); ++i) {
    const auto* f = type.field(i);
    names.push_back(f->json_name());
    for (const std::string& name : {f->name(), f->json_name()}) {
      auto distance = edit_distance(key, name);
      if (distance < best_distance) best_distance = distance, best = f->json_name();
    }
  }
  if (!best.empty()) return fmt::format(" (did you mean '{}'?)", best);
  return fmt::format(" (fields: {})", fmt::join(names, ", "));
}

// YAML -> JSON without a schema (all scalars as strings except YAML's plain
// true/false/null and numbers); protobuf's parser then checks the result.
boost::json::value untyped(const YAML::Node& node) {
  if (node.IsMap()) {
    boost::json::object out;
    for (const auto& entry : node) out[entry.first.as<std::string>()] = untyped(entry.second);
    return out;
  }
  if (node.IsSequence()) {
    boost::json::array out;
    for (const auto& item : node) out.push_back(untyped(item));
    return out;
  }
  if (node.IsNull()) return nullptr;
  auto text = node.as<std::string>();
  if (node.Tag() == "!") return boost::json::value(text);  // quoted: always a string
  if (text == "true" || text == "false") return boost::json::value(text == "true");
  if (parses_number(text)) return boost::json::value(std::stod(text));
  return boost::json::value(text);
}

// Well-known types have a JSON form of their own (Duration "1s", Struct...);
// protobuf's parser checks them.
bool is_well_known(const pb::Descriptor& type) {
  return type.file()->name().rfind("google/protobuf/", 0) == 0;
}

Result<boost::json::value> Walk::message(const YAML::Node& node, const pb::Descriptor& type,
                                         const std::string& path) const {
  if (node.IsNull()) return boost::json::object();
  if (!node.IsMap()) {
    return error(node, path, fmt::format("expected a mapping for {}", type.full_name()));
  }
  boost::json::object out;
  for (const auto& entry : node) {
    auto key = entry.first.as<std::string>();
    const auto* f = type.FindFieldByName(key);
    if (f == nullptr) f = type.FindFieldByCamelcaseName(key);
    if (f == nullptr) {
      return error(
          entry.first, path,
          fmt::format("unknown field '{}' in {}{}", key, type.full_name(), suggestion(key, type)));
    }
    if (out.contains(f->json_name())) {
      return error(entry.first, path, fmt::format("field '{}' given twice", key));
    }
    std::string child = path.empty() ? f->json_name() : path + "." + f->json_name();
    auto value = field(entry.second, *f, child);
    if (!value) return value;
    out[f->json_name()] = std::move(*value);
  }
  return out;
}

Result<boost::json::value> Walk::field(const YAML::Node& node, const pb::FieldDescriptor& f,
                                       const std::string& path) const {
  if (f.is_map()) {
    if (node.IsNull()) return boost::json::object();
    if (!node.IsMap()) return error(node, path, "expected a mapping");
    const auto* value_field = f.message_type()->map_value();
    boost::json::object out;
    for (const auto& entry : node) {
      auto key = entry.first.as<std::string>();
      auto converted = scalar(entry.second, *value_field, fmt::format("{}.{}", path, key));
      if (!converted) return converted;
      out[key] = std::move(*converted);
    }
    return out;
  }
  if (f.is_repeated()) {
    if (node.IsNull()) return boost::json::array();
    if (!node.IsSequence()) return error(node, path, "expected a list");
    boost::json::array out;
    for (std::size_t i = 0; i < node.size(); ++i) {
      auto item_path = fmt::format("{}[{}]", path, i);
      auto item = scalar(node[i], f, item_path);
      if (!item) return item;
      out.push_back(std::move(*item));
    }
    return out;
  }
  return scalar(node, f, path);
}

template <class T>
bool parses_as(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<boost::json::value> Walk::scalar(const YAML::Node& node, const pb::FieldDescriptor& f,
                                        const std::string& path) const {
  if (f.cpp_type() == FieldType::CPPTYPE_MESSAGE) {
    if (is_well_known(*f.message_type())) return untyped(node);
    return message(node, *f.message_type(), path);
  }
  if (!node.IsScalar()) return error(node, path, "expected a single value");
  auto text = node.as<std::string>();
  switch (f.cpp_type()) {
    case FieldType::CPPTYPE_STRING:
      return boost::json::value(text);
    case FieldType::CPPTYPE_BOOL:
      if (text == "true") return boost::json::value(true);
      if (text == "false") return boost::json::value(false);
      return error(node, path, fmt::format("expected true or false, got '{}'", text));
    case FieldType::CPPTYPE_ENUM: {
      const auto* value = f.enum_type()->FindValueByName(text);
      if (value != nullptr) return boost::json::value(text);
      std::vector<std::string> names;
      names.reserve(f.enum_type()->value_count());
      for (int i = 0; i < f.enum_type()->value_count(); ++i) {
        names.push_back(f.enum_type()->value(i)->name());
      }
      return error(node, path,
                   fmt::format("unknown value '{}' (one of: {})", text, fmt::join(names, ", ")));
    }
    case FieldType::CPPTYPE_INT32:
    case FieldType::CPPTYPE_INT64:
      if (parses_as<std::int64_t>(text)) return boost::json::value(text);
      return error(node, path, fmt::format("expected an integer, got '{}'", text));
    case FieldType::CPPTYPE_UINT32:
    case FieldType::CPPTYPE_UINT64:
      if (parses_as<std::uint64_t>(text)) return boost::json::value(text);
      return error(node, path, fmt::format("expected a non-negative integer, got '{}'", text));
    case FieldType::CPPTYPE_FLOAT:
    case FieldType::CPPTYPE_DOUBLE:
      if (parses_as<double>(text)) return boost::json::value(std::stod(text));
      return error(node, path, fmt::format("expected a number, got '{}'", text));
    case FieldType::CPPTYPE_MESSAGE:
      break;
  }
  return error(node, path, "unsupported field type");
}

}  // namespace

Result<void> parse_message(std::string_view text, std::string_view source, pb::Message& out) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "{}:{}:{}: {}", source, e.mark.line + 1,
                e.mark.column + 1, e.msg);
  }
  Walk walk{source};
  auto json = walk.message(root, *out.GetDescriptor(), "");
  if (!json) return tl::unexpected(json.error());

  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  out.Clear();
  auto status = pb::util::JsonStringToMessage(boost::json::serialize(*json), &out, options);
  if (!status.ok()) {
    return fail(ErrorCode::kInvalidArgument, "{}: {}", source, std::string(status.message()));
  }
  return {};
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::kIo, "{}: read failed", path);
  return text.str();
}

Result<void> load_message(const std::string& path, pb::Message& out) {
  auto text = read_file(path);
  if (!text) return tl::unexpected(text.error());
  return parse_message(*text, path, out);
}

}  // namespace weft::yaml
