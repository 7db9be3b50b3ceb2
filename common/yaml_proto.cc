#include "common/yaml_proto.h"

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "common/duration.h"
#include "common/spelling.h"
#include "common/yaml_stream.h"

namespace weft::yaml {
namespace {

namespace pb = google::protobuf;
using FieldType = pb::FieldDescriptor::CppType;

// Carries the source name and the field path for error messages.
struct Walk {
  std::string_view source;
  const ParseOptions& options;

  tl::unexpected<Error> error(const YAML::Node& node, const std::string& path,
                              const std::string& what) const {
    auto mark = node.Mark();
    std::string where = path.empty() ? "" : path + ": ";
    return fail(ErrorCode::kInvalidArgument, "{}:{}:{}: {}{}", source, mark.line + 1,
                mark.column + 1, where, what);
  }

  Result<void> message(const YAML::Node& node, pb::Message& out, const std::string& path) const;
  Result<void> field(const YAML::Node& node, const struct Assign& to,
                     const std::string& path) const;
  Result<void> scalar(const YAML::Node& node, const Assign& to, const std::string& path) const;
  template <class T>
  Result<void> integer(const YAML::Node& node, const Assign& to, const std::string& path,
                       std::string_view expected) const;
  Result<void> enumerator(const YAML::Node& node, const Assign& to, const std::string& path) const;
  Result<void> duration(const YAML::Node& node, const Assign& to, const std::string& path) const;
};

// The name a field is written with: its JSON name for Kubernetes objects.
const std::string& written_name(const pb::FieldDescriptor& f, const ParseOptions& options) {
  return options.json_names_only ? f.json_name() : f.name();
}

// "did you mean 'x'?" for a near miss, else the list of valid fields; both
// in the names the file is to be written with. A proto name typed for a
// JSON one ("backend_refs") is a near miss of its JSON name.
std::vector<std::string> field_names(const pb::Descriptor& type, const ParseOptions& options) {
  std::vector<std::string> names;
  names.reserve(type.field_count());
  for (int i = 0; i < type.field_count(); ++i)
    names.push_back(written_name(*type.field(i), options));
  return names;
}

std::string suggestion(std::string_view key, const pb::Descriptor& type,
                       const ParseOptions& options) {
  std::string best;
  std::size_t best_distance = 3;  // only suggest close misspellings
  for (int i = 0; i < type.field_count(); ++i) {
    const auto* f = type.field(i);
    for (const std::string& name : {f->name(), f->json_name()}) {
      auto distance = name == key ? 0 : spelling::edit_distance(key, name);
      if (distance < best_distance) best_distance = distance, best = written_name(*f, options);
    }
  }
  if (!best.empty()) return fmt::format(" (did you mean '{}'?)", best);
  return fmt::format(" (fields: {})", fmt::join(field_names(type, options), ", "));
}

// Well-known types have a text form of their own; only Duration is used.
bool is_well_known(const pb::Descriptor& type) {
  return type.file()->name().rfind("google/protobuf/", 0) == 0;
}

// A field by its JSON name, which may differ from the lowerCamelCase of its
// proto name when the schema says so (Kubernetes' "clusterIP", "podIP").
const pb::FieldDescriptor* by_json_name(const pb::Descriptor& type, std::string_view key) {
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);
  }
  return nullptr;
}

// Sets or appends one value, as the field is singular or repeated.
struct Assign {
  pb::Message& message;
  const pb::FieldDescriptor& field;

  void operator()(std::string value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddString(&message, &field, std::move(value))
                        : r.SetString(&message, &field, std::move(value));
  }
  void operator()(bool value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddBool(&message, &field, value) : r.SetBool(&message, &field, value);
  }
  void operator()(const pb::EnumValueDescriptor* value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddEnum(&message, &field, value) : r.SetEnum(&message, &field, value);
  }
  void operator()(std::int32_t value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddInt32(&message, &field, value) : r.SetInt32(&message, &field, value);
  }
  void operator()(std::int64_t value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddInt64(&message, &field, value) : r.SetInt64(&message, &field, value);
  }
  void operator()(std::uint32_t value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddUInt32(&message, &field, value)
                        : r.SetUInt32(&message, &field, value);
  }
  void operator()(std::uint64_t value) const {
    auto& r = *message.GetReflection();
    field.is_repeated() ? r.AddUInt64(&message, &field, value)
                        : r.SetUInt64(&message, &field, value);
  }
  void operator()(double value) const {
    auto& r = *message.GetReflection();
    if (field.cpp_type() == FieldType::CPPTYPE_FLOAT) {
      auto narrow = static_cast<float>(value);
      field.is_repeated() ? r.AddFloat(&message, &field, narrow)
                          : r.SetFloat(&message, &field, narrow);
      return;
    }
    field.is_repeated() ? r.AddDouble(&message, &field, value)
                        : r.SetDouble(&message, &field, value);
  }

  // The message to fill: the singular field's, or a new repeated element.
  pb::Message& child() const {
    auto& r = *message.GetReflection();
    return field.is_repeated() ? *r.AddMessage(&message, &field)
                               : *r.MutableMessage(&message, &field);
  }
};

template <class T>
std::optional<T> number(const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<void> Walk::message(const YAML::Node& node, pb::Message& out,
                           const std::string& path) const {
  const auto& type = *out.GetDescriptor();
  if (node.IsNull()) return {};
  if (!node.IsMap()) {
    if (options.json_names_only) return error(node, path, "expected a mapping");
    return error(node, path, fmt::format("expected a mapping for {}", type.full_name()));
  }
  const auto& reflection = *out.GetReflection();
  std::set<int> seen;
  for (const auto& entry : node) {
    auto key = entry.first.as<std::string>();
    const pb::FieldDescriptor* f = nullptr;
    if (!options.json_names_only) {
      f = type.FindFieldByName(key);
      if (f == nullptr) f = type.FindFieldByCamelcaseName(key);
    }
    if (f == nullptr) f = by_json_name(type, key);
    if (f == nullptr && options.lenient && options.lenient(type)) continue;
    if (f == nullptr && options.not_supported && options.not_supported(type, key)) {
      return error(entry.first, path,
                   fmt::format("field '{}' is not supported yet (supported here: {})", key,
                               fmt::join(field_names(type, options), ", ")));
    }
    if (f == nullptr) {
      // A Kubernetes object is named by the caller, and the path says where.
      auto in = options.json_names_only ? std::string() : " in " + type.full_name();
      return error(entry.first, path,
                   fmt::format("unknown field '{}'{}{}", key, in, suggestion(key, type, options)));
    }
    if (!seen.insert(f->number()).second) {
      return error(entry.first, path, fmt::format("field '{}' given twice", key));
    }
    if (const auto* oneof = f->containing_oneof();
        oneof != nullptr && reflection.HasOneof(out, oneof)) {
      return error(
          entry.first, path,
          fmt::format("'{}' and '{}' are alternatives (oneof {}); give one",
                      written_name(*reflection.GetOneofFieldDescriptor(out, oneof), options),
                      written_name(*f, options), oneof->name()));
    }
    std::string child = path;  // the path as the user wrote it
    if (!child.empty()) child += '.';
    child += key;
    auto set = field(entry.second, Assign{out, *f}, child);
    if (!set) return set;
  }
  return {};
}

Result<void> Walk::field(const YAML::Node& node, const Assign& to, const std::string& path) const {
  const auto& f = to.field;
  if (f.is_map()) {
    if (node.IsNull()) return {};
    if (!node.IsMap()) return error(node, path, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      auto key = entry.first.as<std::string>();
      if (!seen.insert(key).second) {
        return error(entry.first, path, fmt::format("key '{}' given twice", key));
      }
      auto& item = to.child();
      const auto& type = *item.GetDescriptor();
      auto set_key = scalar(entry.first, Assign{item, *type.map_key()}, path);
      if (!set_key) return set_key;
      auto value_path = fmt::format("{}.{}", path, key);
      auto set_value = scalar(entry.second, Assign{item, *type.map_value()}, value_path);
      if (!set_value) return set_value;
    }
    return {};
  }
  if (f.is_repeated()) {
    if (node.IsNull()) return {};
    if (!node.IsSequence()) return error(node, path, "expected a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      auto set = scalar(node[i], to, fmt::format("{}[{}]", path, i));
      if (!set) return set;
    }
    return {};
  }
  return scalar(node, to, path);
}

Result<void> Walk::scalar(const YAML::Node& node, const Assign& to, const std::string& path) const {
  const auto& f = to.field;
  if (f.cpp_type() == FieldType::CPPTYPE_MESSAGE) {
    if (f.message_type()->full_name() == "google.protobuf.Duration")
      return duration(node, to, path);
    if (is_well_known(*f.message_type())) {
      return error(node, path, fmt::format("{} is not supported", f.message_type()->full_name()));
    }
    return message(node, to.child(), path);
  }
  if (!node.IsScalar()) return error(node, path, "expected a single value");
  auto text = node.as<std::string>();
  switch (f.cpp_type()) {
    case FieldType::CPPTYPE_STRING:
      if (f.type() == pb::FieldDescriptor::TYPE_BYTES) break;
      to(text);
      return {};
    case FieldType::CPPTYPE_BOOL:
      if (text != "true" && text != "false") {
        return error(node, path, fmt::format("expected true or false, got '{}'", text));
      }
      to(text == "true");
      return {};
    case FieldType::CPPTYPE_ENUM:
      return enumerator(node, to, path);
    case FieldType::CPPTYPE_INT32:
      return integer<std::int32_t>(node, to, path, "an integer");
    case FieldType::CPPTYPE_INT64:
      return integer<std::int64_t>(node, to, path, "an integer");
    case FieldType::CPPTYPE_UINT32:
      return integer<std::uint32_t>(node, to, path, "a non-negative integer");
    case FieldType::CPPTYPE_UINT64:
      return integer<std::uint64_t>(node, to, path, "a non-negative integer");
    case FieldType::CPPTYPE_FLOAT:
    case FieldType::CPPTYPE_DOUBLE:
      if (auto value = number<double>(text); value && std::isfinite(*value)) {
        to(*value);
        return {};
      }
      return error(node, path, fmt::format("expected a number, got '{}'", text));
    case FieldType::CPPTYPE_MESSAGE:
      break;
  }
  return error(node, path, fmt::format("{} fields are not supported", f.type_name()));
}

template <class T>
Result<void> Walk::integer(const YAML::Node& node, const Assign& to, const std::string& path,
                           std::string_view expected) const {
  auto text = node.as<std::string>();
  auto value = number<T>(text);
  if (!value) {
    bool too_big = number<std::int64_t>(text) || number<std::uint64_t>(text);
    return error(node, path,
                 fmt::format("expected {}{}, got '{}'", expected,
                             too_big ? fmt::format(" in [{}, {}]", std::numeric_limits<T>::min(),
                                                   std::numeric_limits<T>::max())
                                     : "",
                             text));
  }
  to(*value);
  return {};
}

Result<void> Walk::enumerator(const YAML::Node& node, const Assign& to,
                              const std::string& path) const {
  auto text = node.as<std::string>();
  const auto& type = *to.field.enum_type();
  if (const auto* value = type.FindValueByName(text)) {
    to(value);
    return {};
  }
  std::vector<std::string> names;
  names.reserve(type.value_count());
  for (int i = 0; i < type.value_count(); ++i) names.push_back(type.value(i)->name());
  return error(node, path,
               fmt::format("unknown value '{}' (one of: {})", text, fmt::join(names, ", ")));
}

Result<void> Walk::duration(const YAML::Node& node, const Assign& to,
                            const std::string& path) const {
  if (!node.IsScalar()) return error(node, path, "expected a duration");
  auto text = node.as<std::string>();
  auto parsed = parse_duration(text);
  if (!parsed) {
    return error(node, path,
                 fmt::format("expected a duration such as 1.5s, 250ms or 1m30s, got '{}'", text));
  }
  // The field is a google.protobuf.Duration, whatever its generated class.
  to.child().CopyFrom(to_proto(*parsed));
  return {};
}

tl::unexpected<Error> syntax_error(std::string_view source, const YAML::Exception& e) {
  return fail(ErrorCode::kInvalidArgument, "{}:{}:{}: {}", source, e.mark.line + 1,
              e.mark.column + 1, e.msg);
}

}  // namespace

Result<void> parse_node(const YAML::Node& node, std::string_view source, pb::Message& out,
                        const ParseOptions& options) {
  out.Clear();
  Result<void> parsed;
  try {
    parsed = Walk{source, options}.message(node, out, "");
  } catch (const YAML::Exception& e) {  // a scalar that cannot be read as text
    parsed = syntax_error(source, e);
  }
  if (!parsed) out.Clear();  // never half a message
  return parsed;
}

Result<void> parse_message(std::string_view text, std::string_view source, pb::Message& out,
                           const ParseOptions& options) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return syntax_error(source, e);
  }
  return parse_node(root, source, out, options);
}

Result<std::vector<YAML::Node>> load_documents(std::string_view text, std::string_view source) {
  auto documents = load_all(text, source);
  if (!documents) return documents;
  std::erase_if(*documents, [](const YAML::Node& document) { return document.IsNull(); });
  return documents;
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
