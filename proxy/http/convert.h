// Translation between HTTP/1.1 heads (Beast) and the protocol-independent
// heads HTTP/2 uses, for the h1->h2 and h2->h1 directions. Pure.
//
// HTTP/1.1 -> HTTP/2: names lower-cased, Host becomes :authority, and the
// connection-specific fields (Connection and every field it names,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE unless it
// is "trailers") are dropped: HTTP/2 forbids them (RFC 9113 §8.2.2).
// HTTP/2 -> HTTP/1.1: :authority becomes Host, the body is framed by the
// request's content-length when it has one and chunked otherwise (the only
// way to carry trailers).
#pragma once

#include <string_view>

#include "proxy/http/http1/fields.h"
#include "proxy/http/message.h"

namespace weft::proxy::http {

RequestHead from_http1(const http1::RequestHead& head, std::string_view scheme);
ResponseHead from_http1(const http1::ResponseHead& head);

// `has_body`: whether body bytes may follow the head.
void to_http1(const RequestHead& head, bool has_body, http1::RequestHead& out);
void to_http1(const ResponseHead& head, bool has_body, http1::ResponseHead& out);

// Copies every field but the connection-specific ones.
void copy_end_to_end(const FieldList& from, FieldList& to);

// Fields of `fields` from position `first` on: the trailer section, which
// Beast's parser appends to the head's fields when a chunked body ends.
FieldList fields_from(const http1::Fields& fields, std::size_t first);

}  // namespace weft::proxy::http
