// Header field storage for proxied messages. Beast allocates one node per
// field; with a polymorphic allocator those nodes come from a per-connection
// arena that is released between requests, instead of a malloc and a free
// per header.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <memory_resource>

namespace weft::proxy::http::http1 {

using FieldAllocator = std::pmr::polymorphic_allocator<char>;
using Fields = boost::beast::http::basic_fields<FieldAllocator>;
using RequestHead = boost::beast::http::request_header<Fields>;
using ResponseHead = boost::beast::http::response_header<Fields>;

}  // namespace weft::proxy::http::http1
