// Reading JSON that comes from outside (the API server, an AdmissionReview,
// a manifest) without Boost.JSON's throwing at()/as_*(): a missing member,
// or one of another type, reads as absent, so a malformed document is an
// error to report rather than an exception.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace weft::json_access {

// object[key]; null when `object` is null or has no such member.
const boost::json::value* find(const boost::json::object* object, std::string_view key);
// object[key] when it is an object, array or string; null or empty otherwise.
const boost::json::object* object_at(const boost::json::object* object, std::string_view key);
const boost::json::array* array_at(const boost::json::object* object, std::string_view key);
std::string_view string_at(const boost::json::object* object, std::string_view key);

// The same on a value that may not be an object at all.
const boost::json::value& member(const boost::json::value& object, std::string_view key);
inline std::string_view string_at(const boost::json::value& object, std::string_view key) {
  return string_at(object.if_object(), key);
}
// A member as text, for people: a string as it is, a number or anything
// else serialized; empty when missing or null.
std::string text_at(const boost::json::value& object, std::string_view key);
// A member that is an array, or an empty one.
const boost::json::array& items_at(const boost::json::value& object, std::string_view key);

}  // namespace weft::json_access
