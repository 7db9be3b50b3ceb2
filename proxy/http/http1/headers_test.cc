#include "proxy/http/http1/headers.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace weft::proxy::http::http1 {
namespace {

TEST(RequestId, IsAUuidShapedRandomHexString) {
  FastRandom rng(42);
  std::set<std::string> seen;
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    auto id = std::string(new_request_id(rng).view());
    ASSERT_TRUE(std::regex_match(id, uuid)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

RequestHead head_with(std::initializer_list<std::pair<const char*, const char*>> fields) {
  RequestHead head;
  for (auto [name, value] : fields) head.insert(name, value);
  return head;
}

TEST(HopByHop, RemovesConnectionAndWhatItNames) {
  auto head = head_with({{"Connection", "keep-alive, x-secret, Cookie"},
                         {"x-secret", "1"},
                         {"Cookie", "a=b"},
                         {"Keep-Alive", "5"},
                         {"Proxy-Connection", "x"},
                         {"TE", "trailers"},
                         {"Upgrade", "websocket"},
                         {"x-kept", "1"},
                         {"Content-Length", "3"}});
  strip_hop_by_hop(head, false);
  for (auto name :
       {"connection", "x-secret", "cookie", "keep-alive", "proxy-connection", "te", "upgrade"}) {
    EXPECT_EQ(head.find(name), head.end()) << name;
  }
  EXPECT_EQ(head["x-kept"], "1");
  EXPECT_EQ(head["content-length"], "3");
}

TEST(HopByHop, ConnectionCannotStripFraming) {
  auto head =
      head_with({{"Connection", "content-length, transfer-encoding"}, {"Content-Length", "3"}});
  strip_hop_by_hop(head, false);
  EXPECT_EQ(head["content-length"], "3");
}

// What goes upstream is framed by one field: the parser's reading of the
// client's (repeated or listed Content-Length, any case of chunked).
// Every value of the fields so named, in order.
std::vector<std::string> values(const Fields& fields, boost::beast::http::field name) {
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (f.name() == name) out.emplace_back(f.value());
  }
  return out;
}

TEST(Framing, OneFieldAsTheParserReadIt) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> fields;
    std::optional<std::uint64_t> length;
    bool chunked;
    std::vector<std::string> content_length, transfer_encoding;
  };
  for (const auto& c : std::vector<Case>{
           {"repeated", {{"Content-Length", "5"}, {"Content-Length", "5"}}, 5, false, {"5"}, {}},
           {"listed", {{"Content-Length", "5, 5"}}, 5, false, {"5"}, {}},
           {"chunked_case", {{"Transfer-Encoding", "Chunked"}}, {}, true, {}, {"chunked"}},
           {"no_body", {{"Accept", "*/*"}}, {}, false, {}, {}},
           {"zero", {{"Content-Length", "0"}}, 0, false, {"0"}, {}},
       }) {
    RequestHead head;
    for (const auto& [name, value] : c.fields) head.insert(name, value);
    normalize_framing(head, c.length, c.chunked);
    EXPECT_EQ(values(head, boost::beast::http::field::content_length), c.content_length) << c.name;
    EXPECT_EQ(values(head, boost::beast::http::field::transfer_encoding), c.transfer_encoding)
        << c.name;
  }
}

TEST(Framing, AResponseForTheClientsVersion) {
  using FieldPairs = std::vector<std::pair<std::string, std::string>>;
  struct Case {
    const char* name;
    FieldPairs fields;
    unsigned client_version;
    ResponseFraming read;
    bool sent_chunked;
    std::vector<std::string> content_length, transfer_encoding;
  };
  const FieldPairs chunked = {{"Transfer-Encoding", "chunked"}};
  for (const auto& c : std::vector<Case>{
           {"length", {{"Content-Length", "5"}}, 11, {.content_length = 5}, false, {"5"}, {}},
           {"repeated_length",
            {{"Content-Length", "2"}, {"Content-Length", "2"}},
            11,
            {.content_length = 2},
            false,
            {"2"},
            {}},
           {"chunked", chunked, 11, {.chunked = true}, true, {}, {"chunked"}},
           {"close_delimited", {}, 11, {.close_delimited = true}, true, {}, {"chunked"}},
           {"chunked_to_http10", chunked, 10, {.chunked = true}, false, {}, {}},
           // Found by fuzz/harness/http1_response.cc: two fields went through;
           // a Content-Length beside a coding left the client waiting for
           // the close; a HEAD answer got a last chunk after its head.
           {"two_fields_merged",
            {{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}},
            11,
            {.chunked = true},
            true,
            {},
            {"gzip, chunked"}},
           {"coded_with_length",
            {{"Transfer-Encoding", "gzip"}, {"Content-Length", "3"}},
            11,
            {.content_length = 3},
            true,
            {},
            {"gzip, chunked"}},
           {"head_answer",
            chunked,
            11,
            {.chunked = true, .has_body = false},
            false,
            {},
            {"chunked"}},
           {"coded_to_http10",
            {{"Transfer-Encoding", ""}, {"Transfer-Encoding", "gzip"}},
            10,
            {.close_delimited = true},
            false,
            {},
            {}},
           {"length_and_coding",
            {{"Content-Length", "3"}, {"Transfer-Encoding", "chunked"}},
            11,
            {.content_length = 3, .chunked = true},
            true,
            {},
            {"chunked"}},
       }) {
    ResponseHead head;
    for (const auto& [name, value] : c.fields) head.insert(name, value);
    EXPECT_EQ(frame_response(head, c.client_version, c.read), c.sent_chunked) << c.name;
    EXPECT_EQ(values(head, boost::beast::http::field::content_length), c.content_length) << c.name;
    EXPECT_EQ(values(head, boost::beast::http::field::transfer_encoding), c.transfer_encoding)
        << c.name;
  }
}

// Upstream connections are HTTP/1.1, which needs a Host: an HTTP/1.0
// client's request without one got through without one (found by
// fuzz/harness/http1_request.cc).
TEST(Framing, UpstreamHeadIsHttp11WithAHost) {
  RequestHead old;
  old.version(10);
  finish_upstream_head(old, {}, false, "reviews.shop:9080");
  EXPECT_EQ(old.version(), 11U);
  ASSERT_EQ(old.count(boost::beast::http::field::host), 1U);
  EXPECT_EQ(old[boost::beast::http::field::host], "reviews.shop:9080");

  RequestHead named;
  named.version(10);
  named.insert("Host", "svc");
  finish_upstream_head(named, {}, false, "reviews.shop:9080");
  EXPECT_EQ(named[boost::beast::http::field::host], "svc");
  EXPECT_EQ(named.count(boost::beast::http::field::host), 1U);
}

TEST(HopByHop, UpgradeKeepsUpgradeAndConnection) {
  auto head = head_with({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  EXPECT_TRUE(is_upgrade(head));
  strip_hop_by_hop(head, true);
  EXPECT_EQ(head["upgrade"], "websocket");
  EXPECT_EQ(head["connection"], "upgrade");
  EXPECT_FALSE(is_upgrade(head_with({{"Upgrade", "websocket"}})));
}

TEST(OriginForm, AbsoluteTargetBecomesOriginFormAndItsAuthorityTheHost) {
  struct Case {
    const char* target;
    const char* origin;
    const char* host;
  };
  for (auto c : {Case{"http://shop.example:8080/cart?id=7", "/cart?id=7", "shop.example:8080"},
                 Case{"http://reviews:9080", "/", "reviews:9080"},
                 Case{"http://reviews?x=1", "/?x=1", "reviews"},
                 Case{"/already/origin", "/already/origin", "stale"}, Case{"*", "*", "stale"}}) {
    auto head = head_with({{"Host", "stale"}});
    head.target(c.target);
    to_origin_form(head);
    EXPECT_EQ(head.target(), c.origin) << c.target;
    EXPECT_EQ(head[beast_http::field::host], c.host) << c.target;
  }
}

TEST(OriginForm, SplitsOnlyAnAbsoluteFormTarget) {
  struct Case {
    const char* target;
    std::optional<std::pair<std::string_view, std::string_view>> parts;  // authority, rest
  };
  const Case cases[] = {
      {"http://reviews:9080/a?b", std::pair{"reviews:9080", "/a?b"}},
      {"http://reviews", std::pair{"reviews", ""}},
      {"https://r?q", std::pair{"r", "?q"}},
      {"http:///x", std::pair{"", "/x"}},
      {"http://", std::pair{"", ""}},
      {"/a://b", std::nullopt},
      {"reviews:9080", std::nullopt},
      {"*", std::nullopt},
  };
  for (const auto& c : cases) {
    auto split = split_absolute_form(c.target);
    ASSERT_EQ(split.has_value(), c.parts.has_value()) << c.target;
    if (!split) continue;
    EXPECT_EQ(split->authority, c.parts->first) << c.target;
    EXPECT_EQ(split->rest, c.parts->second) << c.target;
  }
}

TEST(RequestView, AuthorityPathAndQuery) {
  auto absolute = head_with({{"Host", "shop.example:8080"}});
  absolute.target("/cart?id=7");
  RequestView view(absolute);
  EXPECT_EQ(view.authority(), "shop.example:8080");
  EXPECT_EQ(view.path(), "/cart");
  EXPECT_EQ(view.query(), "id=7");
  auto with_host = head_with({{"Host", "reviews"}});
  with_host.target("/a");
  EXPECT_EQ(RequestView(with_host).authority(), "reviews");
}

TEST(HeaderEdits, RemoveThenSetThenAdd) {
  auto head = head_with({{"x-a", "old"}, {"x-b", "gone"}});
  router::HeaderEdits edits{{{"x-a", "new"}}, {{"x-c", "1"}, {"x-c", "2"}}, {"x-b"}};
  apply_edits(head, edits);
  EXPECT_EQ(head["x-a"], "new");
  EXPECT_EQ(head.find("x-b"), head.end());
  EXPECT_EQ(head.count("x-c"), 2u);
}

}  // namespace
}  // namespace weft::proxy::http::http1
