#include "proxy/http/http1/writer.h"

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace weft::proxy::http::http1 {
namespace {

std::string concat(std::span<const boost::asio::const_buffer> buffers) {
  std::string out;
  for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

RequestHead request() {
  RequestHead head;
  head.method(boost::beast::http::verb::post);
  head.target("/upload?x=1");
  head.version(11);
  head.set("Host", "reviews");
  head.insert("X-Multi", "a");
  head.insert("X-Multi", "b");
  return head;
}

TEST(MessageWriter, RequestWithContentLength) {
  auto head = request();
  head.set("Content-Length", "5");
  MessageWriter writer;
  writer.start(head, false);
  std::string wire = concat(writer.next("hel", false));
  wire += concat(writer.next("lo", true));
  EXPECT_EQ(wire,
            "POST /upload?x=1 HTTP/1.1\r\nHost: reviews\r\nX-Multi: a\r\nX-Multi: b\r\n"
            "Content-Length: 5\r\n\r\nhello");
}

// An empty value may have no storage (a header edit setting ""): written
// as an empty value, with no copy from a null pointer (UBSan in the fuzz
// harnesses).
TEST(MessageWriter, AnEmptyValue) {
  auto head = request();
  head.set("X-Empty", "");
  MessageWriter writer;
  writer.start(head, false);
  EXPECT_EQ(concat(writer.next("", true)),
            "POST /upload?x=1 HTTP/1.1\r\nHost: reviews\r\nX-Multi: a\r\nX-Multi: b\r\n"
            "X-Empty: \r\n\r\n");
}

TEST(MessageWriter, ChunkedBodyRoundTripsThroughBeastsParser) {
  auto head = request();
  head.set("Transfer-Encoding", "chunked");
  MessageWriter writer;
  writer.start(head, true);
  std::string wire = concat(writer.next("", false));  // the head alone
  wire += concat(writer.next(std::string(300, 'x'), false));
  wire += concat(writer.next("", false));  // nothing new: nothing sent
  wire += concat(writer.next("tail", true));
  EXPECT_NE(wire.find("\r\n\r\n12c\r\n"), std::string::npos);  // 300 = 0x12c
  EXPECT_TRUE(wire.ends_with("4\r\ntail\r\n0\r\n\r\n"));

  boost::beast::http::request_parser<boost::beast::http::string_body> parser;
  boost::system::error_code ec;
  std::size_t used = 0;
  while (!ec && !parser.is_done() && used < wire.size()) {
    used += parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
  }
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().body(), std::string(300, 'x') + "tail");
}

TEST(MessageWriter, ChunkedEmptyBodyIsJustTheTerminator) {
  auto head = request();
  MessageWriter writer;
  writer.start(head, true);
  auto wire = concat(writer.next("", true));
  EXPECT_TRUE(wire.ends_with("\r\n\r\n0\r\n\r\n"));
}

// What the access log and the size histograms count as the response's body.
TEST(MessageWriter, CountsTheResponseBodyNotTheRequestsOrTheFraming) {
  MessageWriter writer;
  RequestHead request;
  request.method(beast_http::verb::post);
  request.target("/");
  request.version(11);
  writer.start(request, true);
  writer.next("request body", true);
  EXPECT_EQ(writer.response_body_bytes(), 0u) << "a request's body";
  ResponseHead response;
  response.result(200);
  response.version(11);
  writer.start(response, true);
  writer.next("hello", false);
  writer.next(" world", false);
  writer.next({}, true);
  EXPECT_EQ(writer.response_body_bytes(), 11u) << "chunk size lines not counted";
  writer.start(response, false);
  EXPECT_EQ(writer.response_body_bytes(), 0u) << "a new response";
}

TEST(MessageWriter, ResponseStatusLine) {
  ResponseHead head;
  head.result(404);
  head.version(11);
  head.set("Content-Length", "0");
  MessageWriter writer;
  writer.start(head, false);
  EXPECT_EQ(concat(writer.next("", true)), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  head.version(10);
  head.reason("Custom");
  writer.start(head, false);
  EXPECT_EQ(concat(writer.next("", true)), "HTTP/1.0 404 Custom\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace weft::proxy::http::http1
