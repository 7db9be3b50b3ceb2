#include "proxy/http/http1/upstream_request.h"

#include <gtest/gtest.h>

#include <boost/beast/core/string.hpp>
#include <string>
#include <vector>

namespace weft::proxy::http::http1 {
namespace {

using FieldList = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> values(const RequestHead& head, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& field : head) {
    if (boost::beast::iequals(field.name_string(), name)) out.emplace_back(field.value());
  }
  return out;
}

TEST(UpstreamRequest, AddsForwardingFieldsAppliesEditsThenFramesLast) {
  struct Case {
    const char* name;
    FieldList fields;  // of an HTTP/1.0 POST
    Downstream downstream;
    router::HeaderEdits edits;
    std::string_view peer_field;
    RequestFraming framing;
    std::vector<std::pair<std::string, std::vector<std::string>>> expected;
    bool generates_request_id = false;
  };
  const Case cases[] = {
      {"a first hop over TLS, HTTP/1.0 without Host",
       FieldList{},
       {"10.0.0.7", true},
       {},
       "",
       {std::nullopt, false},
       {{"x-forwarded-for", {"10.0.0.7"}}, {"x-forwarded-proto", {"https"}}, {"host", {"reviews"}}},
       true},
      {"a later hop keeps the chain and the request id",
       FieldList{{"Host", "r"},
                 {"X-Forwarded-For", "1.1.1.1"},
                 {"x-request-id", "abc"},
                 {"x-forwarded-proto", "https"}},
       {"10.0.0.7", false},
       {},
       "",
       {std::nullopt, false},
       {{"x-forwarded-for", {"1.1.1.1, 10.0.0.7"}},
        {"x-request-id", {"abc"}},
        {"x-forwarded-proto", {"http"}},
        {"host", {"r"}}},
       false},
      {"an edit cannot break the framing: it is normalised after the edits",
       FieldList{{"Host", "r"}, {"Content-Length", "5"}, {"Connection", "close"}},
       {"10.0.0.7", false},
       {.set = {{"content-length", "99"}}, .add = {}, .remove = {"x-request-id"}},
       "",
       {5, false},
       {{"content-length", {"5"}}, {"connection", {}}, {"x-request-id", {}}},
       false},
      {"a client's own x-weft-peer never passes, to a cluster without one",
       FieldList{{"Host", "r"}, {"x-weft-peer", "w=forged;ns=x;svc=y"}},
       {"10.0.0.7", false},
       {},
       "",
       {std::nullopt, false},
       {{"x-weft-peer", {}}},
       true},
      {"nor to a meshed Service: the proxy's own replaces it",
       FieldList{{"Host", "r"}, {"X-Weft-Peer", "w=forged;ns=x;svc=y"}},
       {"10.0.0.7", false},
       {},
       "w=productpage;ns=default;svc=reviews.default.svc.cluster.local",
       {std::nullopt, false},
       {{"x-weft-peer", {"w=productpage;ns=default;svc=reviews.default.svc.cluster.local"}}},
       true},
  };
  for (const auto& c : cases) {
    RequestHead head;
    head.method(beast_http::verb::post);
    head.target("/a");
    head.version(10);
    for (const auto& [name, value] : c.fields) head.insert(name, value);
    FastRandom rng(7);
    to_http1_upstream_request(head, false, c.downstream, c.edits, c.peer_field, rng, c.framing,
                              "reviews");
    EXPECT_EQ(head.version(), 11) << c.name;
    for (const auto& [field, want] : c.expected) {
      EXPECT_EQ(values(head, field), want) << c.name << ": " << field;
    }
    if (c.generates_request_id) {
      ASSERT_EQ(values(head, "x-request-id").size(), 1u) << c.name;
      EXPECT_EQ(values(head, "x-request-id")[0].size(), 36u) << c.name;  // a UUID
    }
  }
}

}  // namespace
}  // namespace weft::proxy::http::http1
