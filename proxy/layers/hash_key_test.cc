#include "proxy/layers/hash_key.h"

#include <gtest/gtest.h>

#include <map>

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

}  // namespace
}  // namespace weft::proxy::layers::hash_key
