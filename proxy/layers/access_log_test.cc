#include "proxy/layers/access_log.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace weft::proxy::layers::access_log {
namespace {

using std::chrono::system_clock;

// A draw at `fraction` of the 64-bit range's sampling scale.
std::uint64_t draw_at(double percent) { return static_cast<std::uint64_t>(percent * 10'000); }

TEST(AccessLog, SamplesSuccessesAndKeepsEveryFailure) {
  const struct {
    double percent;
    unsigned status;
    std::string_view error;
    std::uint64_t draw;
    bool logged;
  } cases[] = {
      {100, 200, "", draw_at(99.9999), true},
      {100, 200, "", std::numeric_limits<std::uint64_t>::max(), true},
      {0, 200, "", 0, false},
      {10, 200, "", draw_at(9.99), true},
      {10, 200, "", draw_at(10), false},
      {10, 404, "", draw_at(50), false},  // a 4xx is the application's answer
      {0, 503, "", draw_at(50), true},    // a 5xx always
      {0, 504, "request_timeout", draw_at(50), true},
      {0, 0, "downstream_reset", draw_at(50), true},       // no status: the client left
      {0, 200, "stream_idle_timeout", draw_at(50), true},  // cut short after the head
  };
  for (const auto& c : cases) {
    Record record;
    record.status = c.status;
    record.error = c.error;
    EXPECT_EQ(logged({Format::kJson, "/dev/stdout", c.percent}, record, c.draw), c.logged)
        << c.percent << " " << c.status << " " << c.error << " " << c.draw;
  }
}

// Both sidecars of a hop see the same x-request-id: drawn from it, they
// log the same successes, and ids spread evenly over the percentage.
TEST(AccessLog, DrawsFromTheRequestIdSoBothSidesOfAHopAgree) {
  FastRandom caller(1), callee(2);
  const Settings ten{Format::kJson, "/dev/stdout", 10};
  Record ok;
  ok.status = 200;
  int logged_count = 0;
  for (int i = 0; i < 10'000; ++i) {
    const auto id = "7f3c2b1a-0000-4000-8000-" + std::to_string(100'000'000'000 + i);
    const bool at_caller = logged(ten, ok, sampling_draw(id, caller));
    EXPECT_EQ(at_caller, logged(ten, ok, sampling_draw(id, callee))) << id;
    logged_count += at_caller ? 1 : 0;
  }
  EXPECT_NEAR(logged_count, 1'000, 150);
  // Without an id, each side draws its own.
  FastRandom a(1), b(2);
  EXPECT_NE(sampling_draw("", a), sampling_draw("", b));
}

struct Fixture {
  metrics::Workload client{"productpage", "shop", "productpage", "v1", "default"};
  metrics::Workload server{"reviews-v2", "shop", "reviews", "v2", "default"};
  std::string service = "reviews.shop.svc.cluster.local";

  Entry entry() const {
    Entry e;
    e.start = system_clock::time_point(std::chrono::milliseconds(1'796'652'187'042));
    e.duration_ms = 12.3456;
    e.listener = "outbound";
    e.downstream = "10.0.0.7";
    e.protocol = "HTTP/1.1";
    e.method = "GET";
    e.path = "/reviews/1?x=\"y\"";
    e.authority = "reviews:9080";
    e.request_id = "r-1";
    e.status = 503;
    e.error = "upstream_connect_failure";
    e.cluster = "reviews.shop:9080";
    e.service = &service;
    e.upstream = "10.0.1.4:9080";
    e.attempts = 3;
    e.bytes_received = 17;
    e.bytes_sent = 4096;
    e.source = &client;
    e.destination = &server;
    e.trace = {0x0af7651916cd43dd, 0x8448eb211c80319c};
    return e;
  }
};

TEST(AccessLog, JsonLineHasEveryFieldAndParses) {
  const Fixture f;
  std::string out;
  append_json(out, f.entry());
  ASSERT_EQ(out.back(), '\n');
  ASSERT_EQ(out.find('\n'), out.size() - 1) << "one line";
  const auto line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("start_time"), "2026-12-07T14:03:07.042Z");
  EXPECT_DOUBLE_EQ(line.at("duration_ms").to_number<double>(), 12.346);
  EXPECT_EQ(line.at("protocol"), "HTTP/1.1");
  EXPECT_EQ(line.at("path"), "/reviews/1?x=\"y\"");
  EXPECT_EQ(line.at("status").as_int64(), 503);
  EXPECT_EQ(line.at("error"), "upstream_connect_failure");
  EXPECT_EQ(line.at("service"), "reviews.shop.svc.cluster.local");
  EXPECT_EQ(line.at("upstream"), "10.0.1.4:9080");
  EXPECT_EQ(line.at("attempts").as_int64(), 3);
  EXPECT_EQ(line.at("bytes_received").as_int64(), 17);
  EXPECT_EQ(line.at("bytes_sent").as_int64(), 4096);
  EXPECT_EQ(line.at("source_workload"), "productpage");
  EXPECT_EQ(line.at("source_namespace"), "shop");
  EXPECT_EQ(line.at("destination_workload"), "reviews-v2");
  EXPECT_EQ(line.at("trace_id"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(line.at("request_id"), "r-1");
  EXPECT_FALSE(line.contains("grpc_status"));  // not a gRPC call
  EXPECT_FALSE(line.contains("reset"));        // not HTTP/2
}

TEST(AccessLog, JsonLineOfWhatIsNotKnown) {
  Entry e;  // a request refused before it was parsed
  e.status = 400;
  e.error = "malformed_request";
  e.protocol = "HTTP/1.1";
  e.grpc_status = 14;
  e.reset = 8;
  e.path = "/\xff\n";
  std::string out;
  append_json(out, e);
  const auto line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("service"), "");
  EXPECT_EQ(line.at("source_workload"), "");
  EXPECT_EQ(line.at("path"), "/\xef\xbf\xbd\n");  // U+FFFD for the byte that is not UTF-8
  EXPECT_EQ(line.at("grpc_status").as_int64(), 14);
  EXPECT_EQ(line.at("reset").as_int64(), 8);
  EXPECT_FALSE(line.contains("trace_id"));
  EXPECT_FALSE(line.contains("authz_policy"));
  EXPECT_FALSE(line.contains("peer_identity"));
}

TEST(AccessLog, JsonLineOfADeniedRequest) {
  Entry e;
  e.status = 403;
  e.error = "rbac_denied";
  e.authz_policy = "default/deny-client";
  e.peer_identity = "spiffe://cluster.local/ns/default/sa/client";
  std::string out;
  append_json(out, e);
  const auto line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("authz_policy"), "default/deny-client");
  EXPECT_EQ(line.at("peer_identity"), "spiffe://cluster.local/ns/default/sa/client");
}

TEST(AccessLog, TextLine) {
  const Fixture f;
  std::string out;
  append_text(out, f.entry());
  EXPECT_EQ(out,
            "[2026-12-07T14:03:07.042Z] \"GET /reviews/1?x=\\\"y\\\" HTTP/1.1\" 503 "
            "upstream_connect_failure 17 4096 12.346 3 \"reviews:9080\" "
            "\"reviews.shop.svc.cluster.local\" \"10.0.1.4:9080\" \"shop/productpage\" "
            "\"shop/reviews-v2\" \"r-1\" \"0af7651916cd43dd8448eb211c80319c\" \"outbound\"\n");
  Entry unknown;
  unknown.start = f.entry().start;
  unknown.method = "GET";
  unknown.path = "/a b";
  unknown.protocol = "HTTP/2";
  unknown.status = 200;
  out.clear();
  append_text(out, unknown);
  EXPECT_EQ(out,
            "[2026-12-07T14:03:07.042Z] \"GET /a b HTTP/2\" 200 - 0 0 0.000 0 \"-\" \"-\" \"-\" "
            "\"-\" \"-\" \"-\" \"-\" \"-\"\n");
}

}  // namespace
}  // namespace weft::proxy::layers::access_log
