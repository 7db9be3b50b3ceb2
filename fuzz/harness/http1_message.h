// Feeding a whole HTTP/1.1 message to our Beast-based parser the way a
// connection does (eager, body pieces left in the input), and writing it
// back out with the MessageWriter the forward path uses.
#pragma once

#include <boost/asio/buffer.hpp>
#include <string>
#include <string_view>

#include "proxy/http/http1/parser.h"
#include "proxy/http/http1/writer.h"

namespace weft::fuzz {

namespace beast_http = boost::beast::http;

struct Parsed {
  boost::system::error_code error;  // none: the head, and maybe the body, parsed
  std::string body;                 // the body bytes the parser took
  std::size_t used = 0;             // input bytes the parser took
};

template <class Parser>
Parsed parse_message(Parser& parser, std::string_view input) {
  Parsed out;
  parser.eager(true);
  std::size_t used = 0;
  for (;;) {
    auto consumed =
        parser.put(boost::asio::buffer(input.data() + used, input.size() - used), out.error);
    used += consumed;
    out.body.append(parser.piece());
    if (out.error == beast_http::error::need_more) {
      out.error = {};
      break;
    }
    if (out.error == beast_http::error::need_buffer) out.error = {};
    if (out.error || parser.is_done() || consumed == 0) break;
  }
  out.used = used;
  return out;
}

// The bytes the writer sends for `head` and `body` (whole, then the end).
template <class Head>
std::string write_message(const Head& head, bool chunked, std::string_view body) {
  proxy::http::http1::MessageWriter writer;
  writer.start(head, chunked);
  std::string wire;
  for (auto buffer : writer.next(body, true)) {
    wire.append(static_cast<const char*>(buffer.data()), buffer.size());
  }
  return wire;
}

}  // namespace weft::fuzz
