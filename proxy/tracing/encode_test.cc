#include "proxy/tracing/encode.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace weft::proxy::tracing {
namespace {

namespace json = boost::json;

Span client_span() {
  Span span;
  span.trace = {0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
  span.id = 0x33;
  span.parent = 0x00f067aa0ba902b7;
  span.kind = SpanKind::kClient;
  span.start_unix_nanos = 1'700'000'000'123'456'789;
  span.duration_nanos = 2'500'000;
  span.method = "GET";
  span.path = "/ratings/1";
  span.authority = "ratings.default:9080";
  span.status = 503;
  span.peer_service = "ratings.default.svc.cluster.local";
  span.upstream = "10.0.0.7:9080";
  span.response_flags = "upstream_connect_timeout";
  span.attempts = 2;
  span.retry_unix_nanos = {1'700'000'000'124'000'000};
  span.source_workload = "reviews.default";
  return span;
}

const Reporter kReporter{"reviews.default", "reviews.default"};

// attributes [{key, value: {stringValue|intValue}}] as a map.
std::map<std::string, json::value> attributes(const json::value& list) {
  std::map<std::string, json::value> out;
  for (const auto& entry : list.as_array()) {
    const auto& object = entry.as_object();
    const auto& value = object.at("value").as_object();
    out[std::string(object.at("key").as_string())] = value.begin()->value();
  }
  return out;
}

TEST(OtlpJson, HasTheShapeCollectorsAccept) {
  const Span spans[] = {client_span()};
  auto document = json::parse(otlp_json(spans, kReporter));
  const auto& resource_spans = document.at("resourceSpans").as_array();
  ASSERT_EQ(resource_spans.size(), 1U);
  auto resource = attributes(resource_spans[0].at("resource").at("attributes"));
  EXPECT_EQ(resource["service.name"], "reviews.default");
  const auto& scope_spans = resource_spans[0].at("scopeSpans").as_array();
  const auto& span = scope_spans[0].at("spans").as_array().at(0).as_object();
  // Hex ids, string times, lowerCamelCase names, numeric enums.
  EXPECT_EQ(span.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span.at("spanId"), "0000000000000033");
  EXPECT_EQ(span.at("parentSpanId"), "00f067aa0ba902b7");
  EXPECT_EQ(span.at("kind"), 3);
  EXPECT_EQ(span.at("name"), "GET");
  EXPECT_EQ(span.at("startTimeUnixNano"), "1700000000123456789");
  EXPECT_EQ(span.at("endTimeUnixNano"), "1700000000125956789");
  auto tags = attributes(span.at("attributes"));
  EXPECT_EQ(tags["http.request.method"], "GET");
  EXPECT_EQ(tags["url.path"], "/ratings/1");
  EXPECT_EQ(tags["server.address"], "ratings.default");
  EXPECT_EQ(tags["server.port"], "9080");
  EXPECT_EQ(tags["http.response.status_code"], "503");
  EXPECT_EQ(tags["peer.service"], "ratings.default.svc.cluster.local");
  EXPECT_EQ(tags["weft.response_flags"], "upstream_connect_timeout");
  EXPECT_EQ(tags["weft.attempts"], "2");
  EXPECT_EQ(tags.count("weft.destination_workload"), 0U);  // empty values are left out
  const auto& events = span.at("events").as_array();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].at("name"), "retry");
  EXPECT_EQ(events[0].at("timeUnixNano"), "1700000000124000000");
  EXPECT_EQ(span.at("status").at("code"), 2);
}

TEST(OtlpJson, RootServerSpansAndEmptyBatches) {
  auto span = client_span();
  span.kind = SpanKind::kServer;
  span.parent = 0;
  span.status = 404;
  span.response_flags.clear();
  span.retry_unix_nanos.clear();
  const Span spans[] = {span};
  auto document = json::parse(otlp_json(spans, kReporter));
  const auto& out =
      document.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").at(0).as_object();
  EXPECT_EQ(out.at("kind"), 2);
  EXPECT_FALSE(out.contains("parentSpanId"));
  EXPECT_EQ(out.at("status").at("code"), 0);  // a 4xx is the client's error, not the server's
  auto empty = json::parse(otlp_json({}, kReporter));
  EXPECT_TRUE(
      empty.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().empty());
}

TEST(ZipkinJson, HasTheV2Shape) {
  const Span spans[] = {client_span(), client_span()};
  auto document = json::parse(zipkin_json(spans, kReporter));
  ASSERT_EQ(document.as_array().size(), 2U);
  const auto& span = document.at(0).as_object();
  EXPECT_EQ(span.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span.at("id"), "0000000000000033");
  EXPECT_EQ(span.at("parentId"), "00f067aa0ba902b7");
  EXPECT_EQ(span.at("kind"), "CLIENT");
  EXPECT_EQ(span.at("timestamp"), 1'700'000'000'123'456);  // microseconds, a number
  EXPECT_EQ(span.at("duration"), 2'500);
  EXPECT_EQ(span.at("localEndpoint").at("serviceName"), "reviews.default");
  EXPECT_EQ(span.at("remoteEndpoint").at("serviceName"), "ratings.default.svc.cluster.local");
  const auto& tags = span.at("tags").as_object();
  EXPECT_EQ(tags.at("http.method"), "GET");
  EXPECT_EQ(tags.at("http.status_code"), "503");
  EXPECT_EQ(tags.at("error"), "upstream_connect_timeout");
  EXPECT_EQ(span.at("annotations").at(0).at("value"), "retry 2");
  EXPECT_EQ(json::parse(zipkin_json({}, kReporter)).as_array().size(), 0U);
}

TEST(Encode, QuotesWhatClientsSent) {
  auto span = client_span();
  span.path = "/a\"b\\c\n";
  span.authority = "[::1]:8080";
  const Span spans[] = {span};
  auto otlp = json::parse(otlp_json(spans, kReporter));
  auto tags = attributes(
      otlp.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").at(0).at("attributes"));
  EXPECT_EQ(tags["url.path"], "/a\"b\\c\n");
  EXPECT_EQ(tags["server.address"], "::1");
  auto zipkin = json::parse(zipkin_json(spans, kReporter));
  EXPECT_EQ(zipkin.at(0).at("tags").at("http.path"), "/a\"b\\c\n");
}

// A path of any bytes stays valid JSON: what is not well-formed UTF-8
// becomes U+FFFD, what is stays.
TEST(Encode, KeepsTheBatchValidWhateverBytesCame) {
  const std::pair<std::string, std::string> cases[] = {
      {"/caf\xc3\xa9", "/caf\xc3\xa9"},
      {"/\xff\xfe", "/\xef\xbf\xbd\xef\xbf\xbd"},
      {"/\xc3", "/\xef\xbf\xbd"},                                  // cut short
      {"/\xc0\xaf", "/\xef\xbf\xbd\xef\xbf\xbd"},                  // overlong
      {"/\xed\xa0\x80", "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // a surrogate
      {"/\xf0\x9f\x98\x80", "/\xf0\x9f\x98\x80"},
      {std::string("/\x01\x7f", 3), "/\x01\x7f"},
  };
  for (const auto& [path, expected] : cases) {
    auto span = client_span();
    span.path = path;
    const Span spans[] = {span};
    auto zipkin = json::parse(zipkin_json(spans, kReporter));
    EXPECT_EQ(zipkin.at(0).at("tags").at("http.path").as_string(), expected);
  }
}

}  // namespace
}  // namespace weft::proxy::tracing
