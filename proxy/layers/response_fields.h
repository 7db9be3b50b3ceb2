// The fields the mesh's layers add to a forwarded response, on every HTTP
// version pair: x-weft-failover when a backup Service answered, and the
// Set-Cookie of a consistent-hashing cookie the proxy made. One place, so
// each codec's relay of a response head calls it once.
#pragma once

#include <string>

#include "proxy/http/http1/fields.h"
#include "proxy/http/message.h"
#include "proxy/layers/exchange.h"

namespace weft::proxy::layers {

inline void add_response_fields(const Record& record, http::FieldList& fields) {
  if (!record.failover.empty()) fields.set("x-weft-failover", std::string(record.failover));
  if (!record.set_cookie.empty()) fields.add("set-cookie", record.set_cookie);
}

inline void add_response_fields(const Record& record, http::http1::Fields& fields) {
  if (!record.failover.empty()) fields.set("x-weft-failover", record.failover);
  if (!record.set_cookie.empty())
    fields.insert(http::http1::beast_http::field::set_cookie, record.set_cookie);
}

}  // namespace weft::proxy::layers
