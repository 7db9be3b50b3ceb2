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
    std::vector<std::string> lengths, codings;
    using Name = boost::beast::http::field;
    for (const auto& f : head) {
      if (f.name() == Name::content_length) lengths.emplace_back(f.value());
      if (f.name() == Name::transfer_encoding) codings.emplace_back(f.value());
    }
    EXPECT_EQ(lengths, c.content_length) << c.name;
    EXPECT_EQ(codings, c.transfer_encoding) << c.name;
  }
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
