#include "proxy/http/convert.h"

#include <gtest/gtest.h>

namespace weft::proxy::http {
namespace {

namespace beast_http = boost::beast::http;

std::string field_text(const FieldList& fields) {
  std::string out;
  for (const auto& f : fields) out += f.name + "=" + f.value + ";";
  return out;
}

TEST(ConvertTest, Http1RequestBecomesPseudoHeadersWithoutConnectionFields) {
  http1::RequestHead head;
  head.method(beast_http::verb::post);
  head.target("/svc/Method?x=1");
  head.set("Host", "api.example:8080");
  head.set("Connection", "keep-alive, X-Hop");
  head.set("X-Hop", "1");
  head.set("Keep-Alive", "timeout=5");
  head.set("Transfer-Encoding", "chunked");
  head.set("TE", "trailers");
  head.set("Content-Type", "application/grpc");
  head.insert("X-Multi", "a");
  head.insert("X-Multi", "b");
  auto out = from_http1(head, "https");
  EXPECT_EQ(out.method, "POST");
  EXPECT_EQ(out.scheme, "https");
  EXPECT_EQ(out.authority, "api.example:8080");
  EXPECT_EQ(out.path, "/svc/Method?x=1");
  EXPECT_EQ(field_text(out.fields),
            "te=trailers;content-type=application/grpc;x-multi=a;x-multi=b;");
}

TEST(ConvertTest, TeOtherThanTrailersIsDropped) {
  http1::RequestHead head;
  head.set("TE", "gzip");
  EXPECT_TRUE(from_http1(head, "http").fields.empty());
}

TEST(ConvertTest, Http2RequestGetsHostAndChunkedFramingWithoutLength) {
  RequestHead head{"POST", "http", "svc:80", "/upload", {}};
  head.fields.add("te", "trailers");
  head.fields.add("x-a", "1");
  http1::RequestHead out;
  to_http1(head, true, out);
  EXPECT_EQ(out.method_string(), "POST");
  EXPECT_EQ(out.target(), "/upload");
  EXPECT_EQ(out[beast_http::field::host], "svc:80");
  EXPECT_EQ(out["x-a"], "1");
  EXPECT_EQ(out.count("te"), 0U);
  EXPECT_EQ(out[beast_http::field::transfer_encoding], "chunked");
}

TEST(ConvertTest, Http2RequestWithContentLengthKeepsIt) {
  RequestHead head{"PUT", "http", "svc", "/", {}};
  head.fields.add("content-length", "5");
  http1::RequestHead out;
  to_http1(head, true, out);
  EXPECT_EQ(out[beast_http::field::content_length], "5");
  EXPECT_EQ(out.count(beast_http::field::transfer_encoding), 0U);
}

TEST(ConvertTest, BodylessRequestHasNoFraming) {
  RequestHead head{"GET", "http", "svc", "/", {}};
  http1::RequestHead out;
  to_http1(head, false, out);
  EXPECT_EQ(out.count(beast_http::field::transfer_encoding), 0U);
}

TEST(ConvertTest, Http1ResponseLosesHopByHopFields) {
  http1::ResponseHead head;
  head.result(201);
  head.set("Connection", "close");
  head.set("Transfer-Encoding", "chunked");
  head.set("Trailer", "grpc-status");
  head.set("Server", "up");
  auto out = from_http1(head);
  EXPECT_EQ(out.status, 201U);
  EXPECT_EQ(field_text(out.fields), "trailer=grpc-status;server=up;");
}

TEST(ConvertTest, TrailersAreTheFieldsAfterTheHead) {
  http1::Fields fields;
  fields.insert("Content-Type", "text/plain");
  fields.insert("Grpc-Status", "0");
  fields.insert("Grpc-Message", "ok");
  EXPECT_EQ(field_text(fields_from(fields, 1)), "grpc-status=0;grpc-message=ok;");
  EXPECT_TRUE(fields_from(fields, 3).empty());
  EXPECT_TRUE(fields_from(fields, 9).empty());
}

TEST(ConvertTest, RequestViewSplitsPathAndQuery) {
  RequestHead head{"GET", "http", "svc", "/a/b?x=1&y=2", {}};
  head.fields.add("x-user", "7");
  RequestView view(head);
  EXPECT_EQ(view.path(), "/a/b");
  EXPECT_EQ(view.query(), "x=1&y=2");
  EXPECT_EQ(view.header("Host"), "svc");
  EXPECT_EQ(view.header("X-User"), "7");
  EXPECT_FALSE(view.header("x-none"));
}

}  // namespace
}  // namespace weft::proxy::http
