// A downstream HTTP/1.1 request, from the bytes a client sends to the bytes
// the proxy sends upstream: Beast's parser, our RFC 9112 checks, then the
// forward path's pure steps (origin form, the trace context, then
// to_http1_upstream_request: hop-by-hop fields, forwarding fields, framing,
// Host) and the writer. Properties: what goes
// upstream parses again as a request we would accept ourselves, with exactly one framing field when
// there is a body, the same method, target and body, and no hop-by-hop field; a request smuggled
// past one parser would break one of these.
#include <boost/beast/core/string.hpp>

#include "fuzz/harness/fuzz.h"
#include "fuzz/harness/http1_message.h"
#include "proxy/http/http1/headers.h"
#include "proxy/http/http1/request_check.h"
#include "proxy/http/http1/upstream_request.h"
#include "proxy/layers/trace.h"

namespace http1 = weft::proxy::http::http1;
namespace beast_http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Traced: the trace step below may add its fields.
  const http1::Limits limits{.traced = true};
  http1::RequestParser parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(1 << 20);
  auto parsed = weft::fuzz::parse_message(parser, weft::fuzz::bytes_of(data, size));
  if (parsed.error) {
    FUZZ_EXPECT(http1::rejection_for(parsed.error).status >= 400);
    return 0;
  }
  // The same verdict as the helper tests and docs use.
  auto rejected = http1::check_raw_request(weft::fuzz::bytes_of(data, size), limits);
  if (!parser.is_header_done()) return 0;
  FUZZ_EXPECT(rejected == std::nullopt || !rejected->reason.empty());
  if (rejected || !parser.is_done()) return 0;  // refused, or a body still to come

  auto& head = parser.head();
  http1::to_origin_form(head);  // before routing, as the connection does
  const bool upgrade = http1::is_upgrade(head);
  const auto length = parser.content_length();
  weft::FastRandom rng(1);
  // Whatever context the client sent, a traced hop passes on one that
  // parses, in the same trace when it continued one.
  weft::proxy::layers::Record record;
  const auto incoming = weft::proxy::layers::trace::extract(head);
  weft::proxy::layers::trace::start(record, head, {50, true}, rng);
  if (record.trace.span != 0) {
    auto passed = weft::proxy::tracing::parse_traceparent(head["traceparent"]);
    FUZZ_EXPECT(passed && passed->trace == record.trace.trace && passed->span == record.trace.span);
    if (incoming && incoming->trace.valid()) FUZZ_EXPECT(record.trace.trace == incoming->trace);
  }
  http1::to_http1_upstream_request(
      head, upgrade, {"192.0.2.1", false}, {}, "w=a;ns=b;svc=c.b.svc.cluster.local", rng,
      {length ? std::optional(*length) : std::nullopt, parser.chunked()}, "cluster.default:80");
  auto wire = weft::fuzz::write_message(head, parser.chunked(), parsed.body);

  http1::RequestParser upstream;
  auto again = weft::fuzz::parse_message(upstream, wire);
  FUZZ_EXPECT(!again.error);
  FUZZ_EXPECT(upstream.is_done());
  FUZZ_EXPECT(again.used == wire.size());  // nothing left to be taken for a next request
  FUZZ_EXPECT(!http1::check_request_head(upstream.head(), limits));
  FUZZ_EXPECT(upstream.head().method_string() == head.method_string());
  FUZZ_EXPECT(upstream.head().target() == head.target());
  FUZZ_EXPECT(again.body == parsed.body);
  const auto& sent = upstream.head();
  const auto lengths = sent.count(beast_http::field::content_length);
  const auto codings = sent.count(beast_http::field::transfer_encoding);
  FUZZ_EXPECT(lengths + codings <= 1);
  if (parser.chunked())
    FUZZ_EXPECT(codings == 1 && sent[beast_http::field::transfer_encoding] == "chunked");
  if (length) FUZZ_EXPECT(codings == 1 || (lengths == 1 && upstream.content_length() == length));
  FUZZ_EXPECT(sent.count(beast_http::field::keep_alive) == 0);
  FUZZ_EXPECT(sent.count(beast_http::field::proxy_connection) == 0);
  FUZZ_EXPECT(upgrade || sent.count(beast_http::field::connection) == 0);
  FUZZ_EXPECT(sent.count("x-forwarded-proto") == 1 && sent.count("x-request-id") >= 1);
  return 0;
}
