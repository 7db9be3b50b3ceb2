#include "proxy/http/convert.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <iterator>

namespace weft::proxy::http {

namespace beast_http = boost::beast::http;

namespace {

// ASCII, without the locale lookups of boost::algorithm::to_lower_copy.
std::string lower_case(std::string_view name) {
  std::string out(name);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Whether the Connection field of `fields` names `name` (RFC 9110 §7.6.1).
bool named_by_connection(const http1::Fields& fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(), [name](const http1::Field& f) {
    return f.name() == beast_http::field::connection &&
           beast_http::token_list(f.value()).exists(name);
  });
}

void copy_from_http1(const http1::Fields& from, FieldList& to) {
  for (const auto& f : from) {
    auto name = lower_case(f.name_string());
    if (is_connection_specific(name, f.value()) || named_by_connection(from, name)) continue;
    to.add(std::move(name), std::string(f.value()));
  }
}

template <class Head>
void copy_to_http1(const FieldList& from, Head& to) {
  for (const auto& f : from) {
    if (is_connection_specific(f.name, f.value) || f.name == "te") continue;
    to.insert(f.name, f.value);
  }
}

}  // namespace

void copy_end_to_end(const FieldList& from, FieldList& to) {
  for (const auto& f : from) {
    if (!is_connection_specific(f.name, f.value)) to.add(f.name, f.value);
  }
}

RequestHead from_http1(const http1::RequestHead& head, std::string_view scheme) {
  RequestHead out;
  out.method = head.method_string();
  out.scheme = scheme;
  out.authority = head[beast_http::field::host];
  out.path = head.target();
  copy_from_http1(head, out.fields);
  return out;
}

ResponseHead from_http1(const http1::ResponseHead& head) {
  ResponseHead out;
  out.status = head.result_int();
  copy_from_http1(head, out.fields);
  return out;
}

void to_http1(const RequestHead& head, bool has_body, http1::RequestHead& out) {
  out.method_string(head.method);
  out.target(head.path);
  out.version(11);
  out.set(beast_http::field::host, head.authority);
  copy_to_http1(head.fields, out);
  if (has_body && out.find(beast_http::field::content_length) == out.end()) {
    out.set(beast_http::field::transfer_encoding, "chunked");
  }
}

void to_http1(const ResponseHead& head, bool has_body, http1::ResponseHead& out) {
  out.result(head.status);
  out.version(11);
  copy_to_http1(head.fields, out);
  if (has_body && out.find(beast_http::field::content_length) == out.end()) {
    out.set(beast_http::field::transfer_encoding, "chunked");
  }
}

FieldList fields_from(const http1::Fields& fields, std::size_t first) {
  FieldList out;
  auto it = fields.begin();
  std::advance(it, std::min<std::size_t>(first, std::distance(fields.begin(), fields.end())));
  for (; it != fields.end(); ++it) {
    auto name = lower_case(it->name_string());
    out.add(std::move(name), std::string(it->value()));
  }
  return out;
}

}  // namespace weft::proxy::http
