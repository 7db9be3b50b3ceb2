// HTTP/1.1 message heads as the proxy keeps them: the start line and the
// fields in arrival order in a flat vector, names and values copied into a
// memory resource (the connection's arena, released between requests).
//
// Beast's basic_fields keeps a red-black tree beside its list and compares
// names case-insensitively at every node; a proxied head holds a handful of
// fields, and most lookups are by Beast's field enum, so a linear scan over
// a vector does the same work in a fraction of the instructions (inserting
// a field was a tenth of the proxy's user-space cost).
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string_view>
#include <vector>

namespace weft::proxy::http::http1 {

namespace beast_http = boost::beast::http;

// One field: Beast's enum for the names it knows (field::unknown for
// others), the name as received, and the value.
class Field {
 public:
  Field(beast_http::field known, std::string_view name, std::string_view value)
      : known_(known), name_(name), value_(value) {}
  beast_http::field name() const { return known_; }
  std::string_view name_string() const { return name_; }
  std::string_view value() const { return value_; }

 private:
  beast_http::field known_;
  std::string_view name_;
  std::string_view value_;
};

class Fields {
 public:
  using const_iterator = std::pmr::vector<Field>::const_iterator;

  // Names and values live in `memory`, which must outlive the fields (and
  // frees nothing before it is released).
  explicit Fields(std::pmr::memory_resource* memory) : memory_(memory), fields_(memory) {
    fields_.reserve(16);
  }
  // Names and values live as long as the fields.
  Fields()
      : owned_(std::make_unique<std::pmr::monotonic_buffer_resource>()),
        memory_(owned_.get()),
        fields_(memory_) {}
  // A moved head keeps its strings: they stay where the resource put them.
  Fields(Fields&&) = default;
  Fields(const Fields&) = delete;
  Fields& operator=(const Fields&) = delete;
  Fields& operator=(Fields&&) = delete;

  const_iterator begin() const { return fields_.begin(); }
  const_iterator end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }
  std::size_t count(std::string_view name) const;
  std::size_t count(beast_http::field name) const;

  // The first field so named, or end().
  const_iterator find(beast_http::field name) const;
  const_iterator find(std::string_view name) const;
  // The first field named `name`'s value (as http::FieldList::get).
  std::optional<std::string_view> get(std::string_view name) const;
  // The first value so named; empty when there is none.
  std::string_view operator[](beast_http::field name) const;
  std::string_view operator[](std::string_view name) const;

  // Appends a field whose name is a literal (static storage): only the
  // value is copied.
  void insert_literal(beast_http::field known, std::string_view literal_name,
                      std::string_view value);
  // Appends a field (copying both strings).
  void insert(std::string_view name, std::string_view value);
  void insert(beast_http::field name, std::string_view value);
  void insert(beast_http::field known, std::string_view name, std::string_view value);
  // As received by the parser, whose `input` is what put() was given: the
  // enum is already known. Strings in `input` are left pointing there until
  // adopt() copies them in one piece. Any other string is copied at once:
  // Beast joins an obs-fold value in a buffer on its own stack, which the
  // next folded field reuses and which is gone when put() returns.
  void insert_received(beast_http::field known, std::string_view name, std::string_view value,
                       std::string_view input);
  // Copies the bytes that the fields from position `first` on point into
  // within `input` (one span: the head, or a trailer section) in one
  // allocation, and re-points those fields there.
  void adopt(std::size_t first, std::string_view input);
  // Replaces every field so named with one holding `value`.
  void set(std::string_view name, std::string_view value);
  void set(beast_http::field name, std::string_view value);
  const_iterator erase(const_iterator position);
  void erase(std::string_view name);
  void erase(beast_http::field name);
  // Removes every field for which `drop(field)` holds.
  template <class Predicate>
  void erase_if(Predicate drop) {
    std::erase_if(fields_, drop);
  }

 protected:
  std::string_view copy(std::string_view text);

 private:
  std::unique_ptr<std::pmr::monotonic_buffer_resource> owned_;
  std::pmr::memory_resource* memory_;
  std::pmr::vector<Field> fields_;
  // Text is bump-allocated from blocks of memory_: one virtual allocate
  // per block rather than per string.
  char* spare_ = nullptr;
  std::size_t spare_size_ = 0;
};

// Replaces the fields named `literal_name` (static storage: only `value`
// is copied) with one holding `value`; `present` says whether the request
// has one, so that adding skips the walk that erasing takes.
inline void replace_field(Fields& fields, std::string_view literal_name, std::string_view value,
                          bool present) {
  if (present) fields.erase(literal_name);
  fields.insert_literal(beast_http::field::unknown, literal_name, value);
}

class RequestHead : public Fields {
 public:
  using Fields::Fields;

  beast_http::verb method() const { return verb_; }
  std::string_view method_string() const { return method_; }
  void method_string(std::string_view method);
  void method(beast_http::verb verb, std::string_view text);
  void method(beast_http::verb verb);
  std::string_view target() const { return target_; }
  void target(std::string_view target) { target_ = copy(target); }
  unsigned version() const { return version_; }
  void version(unsigned version) { version_ = version; }

 private:
  beast_http::verb verb_ = beast_http::verb::unknown;
  std::string_view method_;
  std::string_view target_;
  unsigned version_ = 11;
};

class ResponseHead : public Fields {
 public:
  using Fields::Fields;

  unsigned result_int() const { return status_; }
  beast_http::status result() const { return beast_http::int_to_status(status_); }
  void result(unsigned status) { status_ = status; }
  // The reason phrase as received, or the standard one.
  std::string_view reason() const;
  void reason(std::string_view reason) { reason_ = copy(reason); }
  unsigned version() const { return version_; }
  void version(unsigned version) { version_ = version; }

 private:
  unsigned status_ = 200;
  std::string_view reason_;
  unsigned version_ = 11;
};

}  // namespace weft::proxy::http::http1
