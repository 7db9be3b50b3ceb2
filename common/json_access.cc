#include "common/json_access.h"

#include <boost/json/serialize.hpp>

namespace weft::json_access {

const boost::json::value* find(const boost::json::object* object, std::string_view key) {
  return object != nullptr ? object->if_contains(key) : nullptr;
}

const boost::json::object* object_at(const boost::json::object* object, std::string_view key) {
  const auto* found = find(object, key);
  return found != nullptr ? found->if_object() : nullptr;
}

const boost::json::array* array_at(const boost::json::object* object, std::string_view key) {
  const auto* found = find(object, key);
  return found != nullptr ? found->if_array() : nullptr;
}

std::string_view string_at(const boost::json::object* object, std::string_view key) {
  const auto* found = find(object, key);
  const auto* text = found != nullptr ? found->if_string() : nullptr;
  return text != nullptr ? std::string_view(*text) : std::string_view();
}

const boost::json::value& member(const boost::json::value& object, std::string_view key) {
  static const boost::json::value kNull;
  const auto* found = find(object.if_object(), key);
  return found != nullptr ? *found : kNull;
}

std::string text_at(const boost::json::value& object, std::string_view key) {
  const auto* found = find(object.if_object(), key);
  if (found == nullptr || found->is_null()) return "";
  if (const auto* text = found->if_string()) return std::string(*text);
  return boost::json::serialize(*found);
}

const boost::json::array& items_at(const boost::json::value& object, std::string_view key) {
  static const boost::json::array kEmpty;
  const auto* found = array_at(object.if_object(), key);
  return found != nullptr ? *found : kEmpty;
}

}  // namespace weft::json_access
