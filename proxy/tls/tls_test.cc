#include "proxy/tls/tls.h"

#include <gtest/gtest.h>

namespace weft::proxy::tls {
namespace {

TEST(SubjectAltNames, Match) {
  struct Case {
    std::vector<std::string> names, accepted;
    bool expected;
  } cases[] = {
      {{"reviews.default.svc"}, {"reviews.default.svc"}, true},
      {{"REVIEWS.default.svc"}, {"reviews.default.svc"}, true},
      {{"spiffe://cluster.local/ns/default/sa/reviews"},
       {"spiffe://cluster.local/ns/default/sa/reviews"},
       true},
      {{"spiffe://cluster.local/ns/default/sa/ratings"},
       {"spiffe://cluster.local/ns/default/sa/reviews"},
       false},
      {{"a.example.com"}, {"*.example.com"}, true},
      {{"a.b.example.com"}, {"*.example.com"}, false},
      {{"example.com"}, {"*.example.com"}, false},
      {{"127.0.0.1", "localhost"}, {"127.0.0.1"}, true},
      {{}, {"anything"}, false},
      {{"x"}, {"y", "x"}, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(subject_alt_names_match(c.names, c.accepted), c.expected)
        << (c.names.empty() ? "" : c.names[0]) << " vs " << c.accepted[0];
  }
}

TEST(Alpn, WireFormat) {
  EXPECT_EQ(alpn_wire({"h2", "http/1.1"}), std::string("\x02h2\x08http/1.1"));
  EXPECT_EQ(alpn_wire({}), "");
}

TEST(Contexts, MissingFilesAreErrors) {
  auto server = server_context({"/nonexistent/cert.pem", "/nonexistent/key.pem", "", {}});
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("/nonexistent/cert.pem"), std::string::npos);
  auto client = client_context({"/nonexistent/ca.pem", "", "", "", {}, {}});
  ASSERT_FALSE(client);
  EXPECT_NE(client.error().message.find("/nonexistent/ca.pem"), std::string::npos);
  EXPECT_TRUE(client_context({"", "", "", "", {}, {"http/1.1"}}));  // system trust store
}

}  // namespace
}  // namespace weft::proxy::tls
