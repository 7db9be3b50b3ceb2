// The protocol-independent request and response heads that the HTTP/2
// codec produces and consumes, and that forwarding translates to and from
// HTTP/1.1. Field names are lower case (HTTP/2 requires it; HTTP/1.1 names
// are folded when converted); pseudo-headers are members, never fields.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/router/route.h"

namespace weft::proxy::http {

struct Field {
  std::string name, value;
};

class FieldList {
 public:
  void add(std::string name, std::string value) {
    fields_.push_back({std::move(name), std::move(value)});
  }
  // Replaces every field named `name` with one (appends when absent).
  void set(std::string_view name, std::string value);
  void remove(std::string_view name);
  std::optional<std::string_view> get(std::string_view name) const;
  // The `index`-th field named `name` (0: the first, as get()).
  std::optional<std::string_view> get(std::string_view name, std::size_t index) const;
  bool empty() const { return fields_.empty(); }
  std::size_t size() const { return fields_.size(); }
  void clear() { fields_.clear(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

// Replaces the fields named `name` with one holding `value`; `present`
// says whether the list has one (else it is only appended).
inline void replace_field(FieldList& fields, std::string_view name, std::string_view value,
                          bool present) {
  if (present) fields.remove(name);
  fields.add(std::string(name), std::string(value));
}

struct RequestHead {
  std::string method, scheme, authority, path;  // path includes the query
  FieldList fields;
};

struct ResponseHead {
  unsigned status = 200;
  FieldList fields;
};

// The router's view of a protocol-independent request head.
class RequestView final : public router::RequestView {
 public:
  explicit RequestView(const RequestHead& head);
  std::string_view method() const override { return head_.method; }
  std::string_view path() const override { return path_; }
  std::string_view query() const override { return query_; }
  std::string_view authority() const override { return head_.authority; }
  std::optional<std::string_view> header(std::string_view name) const override;
  std::optional<std::string_view> nth_header(std::string_view name,
                                             std::size_t index) const override;

 private:
  const RequestHead& head_;
  std::string_view path_, query_;
};

// Applies a route's header edits (names compared case-insensitively).
void apply_edits(FieldList& fields, const router::HeaderEdits& edits);

// Whether `name` is a connection-specific field that HTTP/2 forbids and a
// proxy drops when translating (RFC 9113 §8.2.2, RFC 9110 §7.6.1). `te` is
// one unless its value is exactly "trailers"; Host travels as :authority.
bool is_connection_specific(std::string_view name, std::string_view value);

}  // namespace weft::proxy::http
