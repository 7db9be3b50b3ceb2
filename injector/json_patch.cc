#include "injector/json_patch.h"

#include <boost/json.hpp>
#include <charconv>
#include <string>
#include <vector>

namespace weft::injector {
namespace {

namespace json = boost::json;

// "/a/b~1c" -> {"a", "b/c"} (RFC 6901).
Result<std::vector<std::string>> parse_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    return fail(ErrorCode::kInvalidArgument, "path '{}' does not start with '/'", pointer);
  }
  std::string token;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
    } else if (pointer[i] == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next != '0' && next != '1') {
        return fail(ErrorCode::kInvalidArgument, "path '{}': bad escape", pointer);
      }
      token += next == '0' ? '~' : '/';
      ++i;
    } else {
      token += pointer[i];
    }
  }
  return tokens;
}

Result<std::size_t> index_of(const std::string& token, std::size_t size, bool may_append) {
  if (may_append && token == "-") return size;
  std::size_t index = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  if (ec != std::errc() || end != token.data() + token.size() || index > size ||
      (index == size && !may_append)) {
    return fail(ErrorCode::kInvalidArgument, "array index '{}' out of range", token);
  }
  return index;
}

// The value `tokens` (all but the last) lead to.
Result<json::value*> parent_of(json::value& document, const std::vector<std::string>& tokens) {
  json::value* at = &document;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (auto* object = at->if_object()) {
      auto* next = object->if_contains(tokens[i]);
      if (next == nullptr) return fail(ErrorCode::kNotFound, "no member '{}'", tokens[i]);
      at = next;
    } else if (auto* array = at->if_array()) {
      auto index = index_of(tokens[i], array->size(), false);
      if (!index) return tl::unexpected(index.error());
      at = &(*array)[*index];
    } else {
      return fail(ErrorCode::kNotFound, "'{}' is inside a scalar", tokens[i]);
    }
  }
  return at;
}

Result<void> apply_one(json::value& document, const json::object& operation) {
  const auto* op = operation.if_contains("op");
  const auto* path = operation.if_contains("path");
  if (op == nullptr || !op->is_string() || path == nullptr || !path->is_string()) {
    return fail(ErrorCode::kInvalidArgument, "an operation needs string 'op' and 'path'");
  }
  auto tokens = parse_pointer(path->get_string());
  if (!tokens) return tl::unexpected(tokens.error());
  std::string_view name = op->get_string();
  const auto* value = operation.if_contains("value");
  if (name != "remove" && value == nullptr) {
    return fail(ErrorCode::kInvalidArgument, "'{}' needs a value", name);
  }
  if (tokens->empty()) {
    if (name == "test") {
      if (document != *value) return fail(ErrorCode::kInvalidArgument, "test failed");
      return {};
    }
    if (name == "remove") return fail(ErrorCode::kInvalidArgument, "cannot remove the document");
    document = *value;
    return {};
  }
  auto parent = parent_of(document, *tokens);
  if (!parent) return tl::unexpected(parent.error());
  const auto& last = tokens->back();
  if (auto* object = (*parent)->if_object()) {
    auto* existing = object->if_contains(last);
    if (name == "add") {
      (*object)[last] = *value;
    } else if (existing == nullptr) {
      return fail(ErrorCode::kNotFound, "no member '{}'", last);
    } else if (name == "remove") {
      object->erase(last);
    } else if (name == "replace") {
      *existing = *value;
    } else if (name == "test") {
      if (*existing != *value) return fail(ErrorCode::kInvalidArgument, "test failed");
    } else {
      return fail(ErrorCode::kInvalidArgument, "unsupported op '{}'", name);
    }
    return {};
  }
  auto* array = (*parent)->if_array();
  if (array == nullptr) return fail(ErrorCode::kNotFound, "'{}' is inside a scalar", last);
  auto index = index_of(last, array->size(), name == "add");
  if (!index) return tl::unexpected(index.error());
  if (name == "add") {
    array->insert(array->begin() + static_cast<std::ptrdiff_t>(*index), *value);
  } else if (name == "remove") {
    array->erase(array->begin() + static_cast<std::ptrdiff_t>(*index));
  } else if (name == "replace") {
    (*array)[*index] = *value;
  } else if (name == "test") {
    if ((*array)[*index] != *value) return fail(ErrorCode::kInvalidArgument, "test failed");
  } else {
    return fail(ErrorCode::kInvalidArgument, "unsupported op '{}'", name);
  }
  return {};
}

}  // namespace

Result<void> apply_patch(json::value& document, const json::array& patch) {
  for (std::size_t i = 0; i < patch.size(); ++i) {
    const auto* operation = patch[i].if_object();
    if (operation == nullptr) {
      return fail(ErrorCode::kInvalidArgument, "operation {}: not an object", i);
    }
    if (auto applied = apply_one(document, *operation); !applied) {
      return tl::unexpected(with_context(applied.error(), fmt::format("operation {}", i)));
    }
  }
  return {};
}

}  // namespace weft::injector
