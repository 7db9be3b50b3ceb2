#include "proxy/layers/hash_key.h"

#include <gtest/gtest.h>

#include <map>

#include "proxy/http/http1/headers.h"
#include "proxy/http/message.h"
#include "proxy/upstream/lb/hash_table.h"

namespace weft::proxy::layers::hash_key {
namespace {

class FakeRequest final : public router::RequestView {
 public:
  FakeRequest(std::map<std::string, std::string> headers, std::string query)
      : headers_(std::move(headers)), query_(std::move(query)) {}
  std::string_view method() const override { return "GET"; }
  std::string_view path() const override { return "/"; }
  std::string_view query() const override { return query_; }
  std::string_view authority() const override { return "app"; }
  std::optional<std::string_view> header(std::string_view name) const override {
    auto found = headers_.find(std::string(name));
    if (found == headers_.end()) return std::nullopt;
    return found->second;
  }

 private:
  std::map<std::string, std::string> headers_;
  std::string query_;
};

using Source = Key::Source;

TEST(HashKey, EachSourceHashesItsValueOrNothing) {
  struct Case {
    const char* name;
    Key key;
    std::map<std::string, std::string> headers;
    std::string query, client_ip;
    std::optional<std::string> hashed;  // the value whose hash is expected
  };
  const std::vector<Case> cases = {
      {"header", {Source::kHeader, "x-user"}, {{"x-user", "ann"}}, "", "10.0.0.1", "ann"},
      {"header absent", {Source::kHeader, "x-user"}, {}, "", "10.0.0.1", std::nullopt},
      {"source IP", {Source::kSourceIp}, {}, "", "10.0.0.1", "10.0.0.1"},
      {"query parameter", {Source::kQueryParameter, "user"}, {}, "a=1&user=bo&c", "", "bo"},
      {"query parameter bare", {Source::kQueryParameter, "c"}, {}, "a=1&user=bo&c", "", ""},
      {"query parameter absent", {Source::kQueryParameter, "x"}, {}, "a=1", "", std::nullopt},
      {"query parameter prefix", {Source::kQueryParameter, "use"}, {}, "user=bo", "", std::nullopt},
      {"cookie", {Source::kCookie, "session"}, {{"cookie", "a=1; session=s1 ;b=2"}}, "", "", "s1"},
      {"none", {Source::kNone}, {{"x-user", "ann"}}, "", "10.0.0.1", std::nullopt},
  };
  for (const auto& c : cases) {
    const FakeRequest request(c.headers, c.query);
    const auto got = hash_of(c.key, request, c.client_ip, 1);
    if (c.hashed) {
      EXPECT_EQ(got.hash, upstream::lb::stable_hash(*c.hashed)) << c.name;
    } else {
      EXPECT_FALSE(got.hash.has_value()) << c.name;
    }
    EXPECT_TRUE(got.set_cookie.empty()) << c.name;
  }
}

// A request without the cookie gets one made from a fresh value, hashed
// the way the next request carrying it will be.
TEST(HashKey, AMissingCookieIsMadeAndSet) {
  const Key key{Source::kCookie, "session", std::chrono::seconds(3600)};
  const FakeRequest bare({{"cookie", "other=1"}}, "");
  const auto made = hash_of(key, bare, "", 0xabcdef);
  EXPECT_EQ(made.set_cookie, "session=0000000000abcdef; Path=/; HttpOnly; Max-Age=3600");
  const FakeRequest next({{"cookie", "other=1; session=0000000000abcdef"}}, "");
  const auto again = hash_of(key, next, "", 7);
  EXPECT_EQ(again.hash, made.hash);
  EXPECT_TRUE(again.set_cookie.empty());
  const Key session{Source::kCookie, "s"};
  EXPECT_EQ(hash_of(session, bare, "", 1).set_cookie, "s=0000000000000001; Path=/; HttpOnly");
}

// An HTTP/2 client may send each cookie as its own field (RFC 9113
// §8.2.3), an HTTP/1.1 client may repeat Cookie: the key is found in any.
TEST(HashKey, TheCookieIsFoundInAnyCookieField) {
  const Key key{Source::kCookie, "session"};
  http::RequestHead h2{.method = "GET", .scheme = "http", .authority = "app", .path = "/"};
  h2.fields.add("cookie", "a=1");
  h2.fields.add("x-other", "session=wrong");
  h2.fields.add("cookie", "session=s2");
  const http::RequestView h2_view(h2);
  EXPECT_EQ(hash_of(key, h2_view, "", 1).hash, upstream::lb::stable_hash("s2"));

  http::http1::RequestHead h1;
  h1.method(boost::beast::http::verb::get);
  h1.target("/");
  h1.insert("Host", "app");
  h1.insert("Cookie", "a=1");
  h1.insert("Cookie", "b=2; session=s1");
  const http::http1::RequestView h1_view(h1);
  EXPECT_EQ(hash_of(key, h1_view, "", 1).hash, upstream::lb::stable_hash("s1"));
  EXPECT_EQ(h1_view.nth_header("cookie", 2), std::nullopt);
}

}  // namespace
}  // namespace weft::proxy::layers::hash_key
