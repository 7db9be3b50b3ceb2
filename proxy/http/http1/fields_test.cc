#include "proxy/http/http1/fields.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "proxy/http/http1/parser.h"

namespace weft::proxy::http::http1 {
namespace {

TEST(Fields, FindsByEnumAndByNameInAnyCase) {
  RequestHead head;
  head.insert("Content-Type", "text/plain");
  head.insert("X-Custom", "1");
  ASSERT_NE(head.find(beast_http::field::content_type), head.end());
  EXPECT_EQ(head[beast_http::field::content_type], "text/plain");
  EXPECT_EQ(head["content-type"], "text/plain");
  EXPECT_EQ(head["x-custom"], "1");
  EXPECT_EQ(head.find("x-custom")->name(), beast_http::field::unknown);
  EXPECT_EQ(head["x-missing"], "");
  EXPECT_EQ(head.find(beast_http::field::host), head.end());
}

TEST(Fields, SetReplacesEveryFieldSoNamedAndKeepsTheOthersInOrder) {
  RequestHead head;
  head.insert("a", "1");
  head.insert("X-Forwarded-For", "10.0.0.1");
  head.insert("b", "2");
  head.insert("x-forwarded-for", "10.0.0.2");
  head.set("x-forwarded-for", "10.0.0.3");
  ASSERT_EQ(head.size(), 3U);
  EXPECT_EQ(head.count("X-FORWARDED-FOR"), 1U);
  std::string order;
  for (const auto& f : head)
    order += std::string(f.name_string()) + "=" + std::string(f.value()) + ";";
  EXPECT_EQ(order, "a=1;b=2;x-forwarded-for=10.0.0.3;");
}

TEST(Fields, EraseByEnumByNameAndByPosition) {
  ResponseHead head;
  head.insert(beast_http::field::server, "x");
  head.insert("Set-Cookie", "a");
  head.insert("set-cookie", "b");
  head.insert("x-a", "1");
  head.erase(beast_http::field::set_cookie);
  EXPECT_EQ(head.count(beast_http::field::set_cookie), 0U);
  head.erase("X-A");
  ASSERT_EQ(head.size(), 1U);
  head.erase(head.begin());
  EXPECT_EQ(head.size(), 0U);
}

TEST(Fields, StringsOutliveTheirSourceAcrossManyBlocks) {
  RequestHead head;
  const std::string big(2000, 'v');  // larger than one allocation block
  for (int i = 0; i < 50; ++i) {
    std::string name = "x-field-" + std::to_string(i);
    std::string value = i == 25 ? big : "value-" + std::to_string(i);
    head.insert(name, value);
    name.assign(name.size(), '?');  // the head must hold its own copies
    value.assign(value.size(), '?');
  }
  EXPECT_EQ(head["x-field-0"], "value-0");
  EXPECT_EQ(head["x-field-25"], big);
  EXPECT_EQ(head["x-field-49"], "value-49");
}

TEST(Fields, ALiteralNameIsKeptAndItsValueCopied) {
  RequestHead head;
  std::string value = "203.0.113.7";
  head.insert_literal(beast_http::field::unknown, "x-forwarded-for", value);
  value.assign(value.size(), '?');
  EXPECT_EQ(head["x-forwarded-for"], "203.0.113.7");
}

TEST(Fields, StatusLineDefaultsToTheStandardReason) {
  ResponseHead head;
  head.result(404);
  EXPECT_EQ(head.reason(), "Not Found");
  head.reason("Gone Fishing");
  EXPECT_EQ(head.reason(), "Gone Fishing");
}

// Feeds `wire` to a parser in one put per call, as a connection does, and
// overwrites the input after every put: what the head holds must be copies.
struct Fed {
  std::string body;
  bool done = false;
  boost::system::error_code error;
};

template <bool kIsRequest>
Fed feed(Parser<kIsRequest>& parser, std::string wire, std::size_t step) {
  Fed fed;
  std::size_t at = 0;
  std::string buffer;
  for (int guard = 0; guard < 10000 && !parser.is_done(); ++guard) {
    const std::size_t end = std::min(wire.size(), at + step);
    buffer.append(wire, at, end - at);
    at = end;
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
    fed.body += parser.piece();
    buffer.erase(0, used);
    std::fill(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(at), '#');
    if (ec == beast_http::error::need_more && at == wire.size()) break;
    if (ec && ec != beast_http::error::need_more && ec != beast_http::error::need_buffer) {
      fed.error = ec;
      return fed;
    }
  }
  fed.done = parser.is_done();
  return fed;
}

TEST(Parser, HeadFieldsAndBodyPiecesInWhateverSplitTheBytesArrive) {
  const std::string wire =
      "POST /upload?x=1 HTTP/1.1\r\nHost: svc\r\nX-Trace: abc\r\nContent-Length: 11\r\n\r\n"
      "hello world";
  for (std::size_t step : {1UL, 7UL, 64UL, 4096UL}) {
    Parser<true> parser;
    auto fed = feed(parser, wire, step);
    ASSERT_FALSE(fed.error) << step << ": " << fed.error.message();
    EXPECT_TRUE(fed.done) << step;
    EXPECT_EQ(parser.head().method(), beast_http::verb::post);
    EXPECT_EQ(parser.head().target(), "/upload?x=1");
    EXPECT_EQ(parser.head()["host"], "svc");
    EXPECT_EQ(parser.head()["x-trace"], "abc");
    EXPECT_EQ(fed.body, "hello world") << step;
  }
}

TEST(Parser, ChunkedBodyAndTrailersAfterTheHeadFields) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\n\r\n";
  for (std::size_t step : {1UL, 9UL, 4096UL}) {
    Parser<false> parser;
    auto fed = feed(parser, wire, step);
    ASSERT_FALSE(fed.error) << step << ": " << fed.error.message();
    EXPECT_TRUE(fed.done) << step;
    EXPECT_EQ(parser.head().result_int(), 200U);
    EXPECT_EQ(parser.head().reason(), "OK");
    EXPECT_EQ(fed.body, "hello world") << step;
    EXPECT_EQ(parser.head()["grpc-status"], "0") << step;
    EXPECT_EQ(parser.head().size(), 2U);  // Transfer-Encoding, then the trailer
  }
}

// Beast joins an obs-fold's lines in a buffer on its own stack, reused by
// the next folded field and gone when put() returns. Such a value must be
// copied while Beast reports it: copying it later took the proxy down with
// one request, and then sent whatever the stack held upstream in its place
// (both found by fuzz/harness/http1_request.cc).
TEST(Parser, AFoldedValueIsCopiedWhileBeastHoldsIt) {
  for (const std::string wire : {
           "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n",
           // Two folded values in one put: Beast joins both in one buffer.
           "GET / HTTP/1.1\r\nX-A: a\r\n b\r\nHost: a\r\nX-B: cc\r\n dd\r\n\r\n",
       }) {
    for (std::size_t step : {1UL, 4096UL}) {
      Parser<true> parser;
      auto fed = feed(parser, wire, step);
      ASSERT_FALSE(fed.error) << fed.error.message();
      EXPECT_EQ(parser.head()["x-a"], "a b") << wire;
      EXPECT_EQ(parser.head()["host"], "a") << wire;
      if (wire.find("X-B") != std::string::npos) {
        EXPECT_EQ(parser.head()["x-b"], "cc dd") << wire;
      }
    }
  }
}

TEST(Parser, EagerPutsStopAtAPieceThatDoesNotFollowOn) {
  // Eagerly, one put would reach the second chunk in the same call; the
  // parser hands over one contiguous piece per put instead.
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  Parser<false> parser;
  parser.eager(true);
  std::string body;
  std::size_t at = 0;
  for (int guard = 0; guard < 100 && !parser.is_done(); ++guard) {
    boost::system::error_code ec;
    at += parser.put(boost::asio::buffer(wire.data() + at, wire.size() - at), ec);
    body += parser.piece();
    ASSERT_TRUE(!ec || ec == beast_http::error::need_buffer) << ec.message();
  }
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(body, "hello world");
}

}  // namespace
}  // namespace weft::proxy::http::http1
