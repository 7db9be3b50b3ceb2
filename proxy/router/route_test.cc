#include "proxy/router/route.h"

#include <gtest/gtest.h>

#include <map>

namespace weft::proxy::router {
namespace {

// A request for matching, with lowercase header names.
class FakeRequest final : public RequestView {
 public:
  FakeRequest(std::string method, const std::string& target, std::string authority,
              std::map<std::string, std::string> headers = {})
      : method_(std::move(method)), authority_(std::move(authority)), headers_(std::move(headers)) {
    auto q = target.find('?');
    path_ = target.substr(0, q);
    query_ = q == std::string::npos ? "" : target.substr(q + 1);
  }
  std::string_view method() const override { return method_; }
  std::string_view path() const override { return path_; }
  std::string_view query() const override { return query_; }
  std::string_view authority() const override { return authority_; }
  std::optional<std::string_view> header(std::string_view name) const override {
    auto found = headers_.find(std::string(name));
    if (found == headers_.end()) return std::nullopt;
    return std::string_view(found->second);
  }

 private:
  std::string method_, path_, query_, authority_;
  std::map<std::string, std::string> headers_;
};

ValueMatch exact(std::string v) { return {ValueMatch::Kind::kExact, std::move(v), nullptr, true}; }
ValueMatch regex(const std::string& r) {
  return {ValueMatch::Kind::kRegex, "", std::make_shared<const RE2>(r), true};
}
ValueMatch present(bool p = true) { return {ValueMatch::Kind::kPresent, "", nullptr, p}; }

struct MatchCase {
  const char* name;
  RouteMatch match;
  FakeRequest request;
  bool expected;
};

// Test names, not bytes, in gtest's output.
void PrintTo(const MatchCase& c, std::ostream* os) { *os << c.name; }

const PathMatch kPrefixApi{PathMatch::Kind::kPrefix, "/api", nullptr};

class RouteMatches : public ::testing::TestWithParam<MatchCase> {};

TEST_P(RouteMatches, AsExpected) {
  EXPECT_EQ(GetParam().match.matches(GetParam().request), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouteMatches,
    ::testing::Values(
        MatchCase{"any", {}, {"GET", "/x", "a"}, true},
        MatchCase{
            "exact_hit", {{PathMatch::Kind::kExact, "/x", nullptr}}, {"GET", "/x?q=1", "a"}, true},
        MatchCase{
            "exact_miss", {{PathMatch::Kind::kExact, "/x", nullptr}}, {"GET", "/xy", "a"}, false},
        MatchCase{"prefix_hit", {kPrefixApi}, {"GET", "/api/v1", "a"}, true},
        MatchCase{"prefix_is_not_segment_aware", {kPrefixApi}, {"GET", "/apiv2", "a"}, true},
        MatchCase{"prefix_miss", {kPrefixApi}, {"GET", "/ap", "a"}, false},
        MatchCase{"regex_full_match",
                  {{PathMatch::Kind::kRegex, "", std::make_shared<const RE2>("/u/[0-9]+")}},
                  {"GET", "/u/42", "a"},
                  true},
        MatchCase{"regex_partial_is_miss",
                  {{PathMatch::Kind::kRegex, "", std::make_shared<const RE2>("/u/[0-9]+")}},
                  {"GET", "/u/42/x", "a"},
                  false},
        MatchCase{"method_hit", {{}, "POST"}, {"POST", "/", "a"}, true},
        MatchCase{"method_miss", {{}, "POST"}, {"GET", "/", "a"}, false},
        MatchCase{"header_exact",
                  {{}, "", {{"x-canary", exact("1")}}},
                  {"GET", "/", "a", {{"x-canary", "1"}}},
                  true},
        MatchCase{"header_exact_miss",
                  {{}, "", {{"x-canary", exact("1")}}},
                  {"GET", "/", "a", {{"x-canary", "2"}}},
                  false},
        MatchCase{"header_absent", {{}, "", {{"x-canary", exact("1")}}}, {"GET", "/", "a"}, false},
        MatchCase{"header_regex",
                  {{}, "", {{"user-agent", regex(".*curl.*")}}},
                  {"GET", "/", "a", {{"user-agent", "curl/7"}}},
                  true},
        MatchCase{"header_present",
                  {{}, "", {{"x-debug", present()}}},
                  {"GET", "/", "a", {{"x-debug", ""}}},
                  true},
        MatchCase{"header_must_be_absent",
                  {{}, "", {{"x-debug", present(false)}}},
                  {"GET", "/", "a", {{"x-debug", ""}}},
                  false},
        MatchCase{
            "header_inverted", {{}, "", {{"x-canary", exact("1"), true}}}, {"GET", "/", "a"}, true},
        MatchCase{"header_inverted_miss",
                  {{}, "", {{"x-canary", exact("1"), true}}},
                  {"GET", "/", "a", {{"x-canary", "1"}}},
                  false},
        MatchCase{
            "query_exact", {{}, "", {}, {{"v", exact("2")}}}, {"GET", "/?a=1&v=2", "a"}, true},
        MatchCase{
            "query_exact_miss", {{}, "", {}, {{"v", exact("2")}}}, {"GET", "/?v=3", "a"}, false},
        MatchCase{"query_present_without_value",
                  {{}, "", {}, {{"debug", present()}}},
                  {"GET", "/?debug", "a"},
                  true},
        MatchCase{
            "query_name_is_whole", {{}, "", {}, {{"v", present()}}}, {"GET", "/?vv=1", "a"}, false},
        MatchCase{"all_must_match",
                  {kPrefixApi, "GET", {{"x-canary", exact("1")}}},
                  {"GET", "/api", "a"},
                  false}),
    [](const auto& test) { return std::string(test.param.name); });

RouteTable table_of(std::vector<std::vector<std::string>> hosts) {
  RouteTable table;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    table.virtual_hosts.push_back({"vh" + std::to_string(i), hosts[i], {}});
  }
  return table;
}

TEST(RouteTable, PicksTheMostSpecificVirtualHost) {
  auto table =
      table_of({{"*"}, {"*.example.com"}, {"*.api.example.com"}, {"reviews"}, {"reviews:9080"}});
  struct {
    const char* authority;
    const char* expected;
  } cases[] = {
      {"reviews:9080", "vh4"}, {"reviews:8080", "vh3"},  {"reviews", "vh3"},
      {"REVIEWS", "vh3"},      {"x.example.com", "vh1"}, {"x.api.example.com:1", "vh2"},
      {"example.com", "vh0"},  {"other", "vh0"},
  };
  for (const auto& c : cases) {
    const auto* vhost = table.host_for(c.authority);
    ASSERT_NE(vhost, nullptr) << c.authority;
    EXPECT_EQ(vhost->name, c.expected) << c.authority;
  }
  EXPECT_EQ(table_of({{"only"}}).host_for("other"), nullptr);
}

TEST(Forward, SplitsFollowWeightsExactly) {
  Forward canary{{{7, 90}, {8, 10}}, 1};
  Forward with_zero{{{1, 0}, {2, 5}}, 0};
  Splits splits{upstream::lb::RoundRobin(with_zero.weights()),
                upstream::lb::RoundRobin(canary.weights())};
  int to_eight = 0;
  for (int i = 0; i < 100; ++i) to_eight += canary.choose(splits) == 8;
  EXPECT_EQ(to_eight, 10);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(with_zero.choose(splits), 2u);
  // Each split keeps its own position.
  EXPECT_EQ(canary.choose(splits), 7u);
  Forward single{{{4, 1}}, 0};
  Splits none;
  EXPECT_EQ(single.choose(none), 4u);
}

TEST(Redirect, KeepsWhatItDoesNotSet) {
  FakeRequest request("GET", "/old?x=1", "shop:8080");
  EXPECT_EQ((Redirect{"https", "", "", 0, 301}).location(request), "https://shop/old?x=1");
  EXPECT_EQ((Redirect{"", "new", "/n", 9090, 302}).location(request), "http://new:9090/n");
}

TEST(QueryParam, Finds) {
  EXPECT_EQ(query_param("a=1&b=2", "b"), "2");
  EXPECT_EQ(query_param("a=1&b", "b"), "");
  EXPECT_EQ(query_param("a=1", "b"), std::nullopt);
  EXPECT_EQ(query_param("", "a"), std::nullopt);
}

}  // namespace
}  // namespace weft::proxy::router
