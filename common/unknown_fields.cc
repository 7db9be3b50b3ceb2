#include "common/unknown_fields.h"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <vector>

namespace weft::proto {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string join(const std::string& path, std::string_view part) {
  return path.empty() ? std::string(part) : fmt::format("{}.{}", path, part);
}

std::string where(const std::string& path, std::string_view what) {
  return path.empty() ? std::string(what) : fmt::format("{}: {}", path, what);
}

std::optional<std::string> find_in(const Message& message, const std::string& path);

// An unknown enum value of `field` (proto3 enums keep unknown numbers as
// they came), or a nested message's unknown part.
std::optional<std::string> find_in_field(const Message& message, const FieldDescriptor& field,
                                         const std::string& path) {
  const auto& reflection = *message.GetReflection();
  const bool repeated = field.is_repeated();
  const int count = repeated ? reflection.FieldSize(message, &field) : 1;
  for (int i = 0; i < count; ++i) {
    const std::string item =
        repeated ? fmt::format("{}[{}]", join(path, field.name()), i) : join(path, field.name());
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      const int value = repeated ? reflection.GetRepeatedEnumValue(message, &field, i)
                                 : reflection.GetEnumValue(message, &field);
      if (field.enum_type()->FindValueByNumber(value) == nullptr) {
        return where(item, fmt::format("enum value {}", value));
      }
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& nested = repeated ? reflection.GetRepeatedMessage(message, &field, i)
                                       : reflection.GetMessage(message, &field);
      if (auto found = find_in(nested, item)) return found;
    }
  }
  return std::nullopt;
}

std::optional<std::string> find_in(const Message& message, const std::string& path) {
  const auto& reflection = *message.GetReflection();
  const auto& unknown = reflection.GetUnknownFields(message);
  if (!unknown.empty()) return where(path, fmt::format("field {}", unknown.field(0).number()));
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (auto found = find_in_field(message, *field, path)) return found;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_unknown(const Message& message) { return find_in(message, ""); }

}  // namespace weft::proto
