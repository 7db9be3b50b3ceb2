#include "common/http_url.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

struct Case {
  std::string_view text;
  std::string host;
  std::uint16_t port;
  std::string target;
};

TEST(ParseHttpUrl, AcceptsHostsPortsAndPaths) {
  const Case cases[] = {
      {"http://127.0.0.1:4318/v1/traces", "127.0.0.1", 4318, "/v1/traces"},
      {"http://collector.observability.svc:4318", "collector.observability.svc", 4318, "/default"},
      {"http://zipkin", "zipkin", 80, "/default"},
      {"http://[::1]:9411/api/v2/spans", "::1", 9411, "/api/v2/spans"},
      {"http://[::1]", "::1", 80, "/default"},
      {"http://h:1/", "h", 1, "/"},
      {"http://h:65535?x=1", "h", 65535, "/default?x=1"},
  };
  for (const auto& c : cases) {
    auto url = parse_http_url(c.text, "/default");
    ASSERT_TRUE(url) << c.text << ": " << url.error().message;
    EXPECT_EQ(url->host, c.host) << c.text;
    EXPECT_EQ(url->port, c.port) << c.text;
    EXPECT_EQ(url->target, c.target) << c.text;
  }
}

TEST(ParseHttpUrl, RefusesWhatItCannotSendTo) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"https://collector:4318", "https is not supported"},
      {"collector:4318", "is not an http://"},
      {"http://", "the host is empty"},
      {"http://:80/x", "the host is empty"},
      {"http://h:/x", "the port is empty"},
      {"http://h:0", "from 1 to 65535"},
      {"http://h:65536", "from 1 to 65535"},
      {"http://h:80x", "from 1 to 65535"},
      {"http://user@h", "user information"},
      {"http://h/#top", "fragment"},
      {"http://[::1", "lacks its ']'"},
      {"http://[::1]x", "after ']'"},
  };
  for (const auto& [text, error] : cases) {
    auto url = parse_http_url(text, "/");
    ASSERT_FALSE(url) << text;
    EXPECT_NE(url.error().message.find(error), std::string::npos) << url.error().message;
  }
}

TEST(HttpUrl, AuthorityBracketsIpv6) {
  EXPECT_EQ((HttpUrl{"::1", 9411, "/"}).authority(), "[::1]:9411");
  EXPECT_EQ((HttpUrl{"zipkin", 80, "/"}).authority(), "zipkin:80");
}

}  // namespace
}  // namespace weft
