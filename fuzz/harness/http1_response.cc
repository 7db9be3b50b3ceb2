// An upstream HTTP/1.1 response, from the bytes an application (or a
// hostile upstream) sends to the bytes the client gets: Beast's parser,
// then the forward path's pure steps (hop-by-hop fields, re-framing for the
// client's version, a close-delimited body re-framed as chunked) and the
// writer. The first input byte chooses the request it answers (bit 0: a
// HEAD request; bit 1: the client spoke HTTP/1.0). Properties: the client
// gets a response that parses again, with the same status and body, and at
// most one framing field of each kind.
#include "fuzz/harness/fuzz.h"
#include "fuzz/harness/http1_message.h"
#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/request_check.h"

namespace http1 = weft::proxy::http::http1;
namespace beast_http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool head_request = (data[0] & 1) != 0;
  const bool client_http10 = (data[0] & 2) != 0;
  auto input = weft::fuzz::bytes_of(data + 1, size - 1);

  http1::ResponseParser parser;
  parser.header_limit(static_cast<std::uint32_t>(http1::Limits{}.max_header_bytes));
  parser.body_limit(1 << 20);
  parser.skip(head_request);
  auto parsed = weft::fuzz::parse_message(parser, input);
  if (parsed.error || !parser.is_header_done()) return 0;
  const auto status = parser.head().result_int();
  if (status < 200) return 0;  // interim answers are read past, not forwarded
  const bool close_delimited = !head_request && http1::status_has_body(status) &&
                               !parser.content_length() && !parser.chunked();
  if (close_delimited) {
    // The upstream closed: that ends such a body.
    boost::system::error_code eof;
    parser.put_eof(eof);
    if (eof) return 0;
  }
  if (!parser.is_done()) return 0;  // cut short: the client sees a close

  auto& head = parser.head();
  const auto length = parser.content_length();
  http1::strip_hop_by_hop(head, false);
  const bool chunked =
      http1::frame_response(head, client_http10 ? 10 : 11,
                            {.content_length = length ? std::optional(*length) : std::nullopt,
                             .chunked = parser.chunked(),
                             .close_delimited = close_delimited,
                             .has_body = !head_request && http1::status_has_body(status)});
  head.version(11);
  auto wire = weft::fuzz::write_message(head, chunked, head_request ? "" : parsed.body);

  http1::ResponseParser client;
  client.skip(head_request);
  auto again = weft::fuzz::parse_message(client, wire);
  FUZZ_EXPECT(!again.error);
  FUZZ_EXPECT(client.is_header_done());
  FUZZ_EXPECT(client.head().result_int() == status);
  if (client_http10) FUZZ_EXPECT(client.head().count(beast_http::field::transfer_encoding) == 0);
  if (client_http10 && !client.is_done()) {
    // HTTP/1.0 style: the close ends the body, which the test cannot see.
    boost::system::error_code eof;
    client.put_eof(eof);
    FUZZ_EXPECT(!eof);
  }
  FUZZ_EXPECT(client.is_done());
  FUZZ_EXPECT(again.used == wire.size());  // nothing left to be taken for a next response
  if (!head_request) FUZZ_EXPECT(again.body == parsed.body);
  FUZZ_EXPECT(client.head().count(beast_http::field::content_length) <= 1);
  FUZZ_EXPECT(client.head().count(beast_http::field::transfer_encoding) <= 1);
  FUZZ_EXPECT(client.head().count(beast_http::field::connection) == 0);
  return 0;
}
