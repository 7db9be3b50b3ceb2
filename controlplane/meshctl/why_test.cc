// meshctl why: its arguments, the /debug/why query, and golden answers over
// the translate testdata (controlplane/translate/testdata/<case>/why.queries,
// one query a line: SOURCE DESTINATION [METHOD TARGET [name:value ...]], the
// answers in expected/why.txt; WEFT_UPDATE_GOLDEN=1 rewrites them).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "common/testing/golden.h"
#include "controlplane/meshctl/proxy_config_view.h"
#include "controlplane/meshctl/why_view.h"
#include "controlplane/sources/directory.h"

namespace weft::meshctl {
namespace {

namespace fs = std::filesystem;

TEST(ParseServiceRef, ReadsEveryFormClusterDnsAccepts) {
  struct Case {
    std::string arg, ns, name;
    std::uint32_t port;
  };
  for (const auto& c :
       std::vector<Case>{{"reviews", "shop", "reviews", 0},
                         {"reviews:9080", "shop", "reviews", 9080},
                         {"reviews.default", "default", "reviews", 0},
                         {"reviews.default:9080", "default", "reviews", 9080},
                         {"reviews.default.svc", "default", "reviews", 0},
                         {"reviews.prod.svc.cluster.local:80", "prod", "reviews", 80},
                         {"prod/reviews", "prod", "reviews", 0},
                         {"prod/reviews:8080", "prod", "reviews", 8080}}) {
    auto ref = parse_service_ref(c.arg, "shop");
    ASSERT_TRUE(ref) << c.arg << ": " << ref.error();
    EXPECT_EQ(ref->ns, c.ns) << c.arg;
    EXPECT_EQ(ref->name, c.name) << c.arg;
    EXPECT_EQ(ref->port, c.port) << c.arg;
  }
}

TEST(ParseServiceRef, RejectsBadPortsAndEmptyNames) {
  for (std::string_view arg : {"reviews:", "reviews:x", "reviews:0", "reviews:70000", ":80", "/x",
                               "prod/", ".default", "a.b/c"}) {
    EXPECT_FALSE(parse_service_ref(arg, "default")) << arg;
  }
}

TEST(ParseHeader, SplitsAtTheFirstColonAndTrimsTheValue) {
  auto h = parse_header("x-canary: 1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->first, "x-canary");
  EXPECT_EQ(h->second, "1");
  auto url = parse_header("referer:http://a:1/b");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->second, "http://a:1/b");
  EXPECT_FALSE(parse_header("no-colon"));
  EXPECT_FALSE(parse_header(": empty name"));
}

// What meshctl sends is what the control plane reads, whatever the
// characters: paths with queries, header values with spaces and '&'.
TEST(WhyQuery, RoundTripsThroughTheQueryString) {
  cp::explain::Query query{
      "client-0", "shop", "reviews",
      "prod",     9080,   {"POST", "/a b?x=1&y=%2F", {{"x-canary", "1 & 2"}, {"cookie", "a=b"}}}};
  auto back = cp::explain::parse_query_string(cp::explain::query_string(query));
  EXPECT_EQ(back.source, "client-0");
  EXPECT_EQ(back.source_ns, "shop");
  EXPECT_EQ(back.service, "reviews");
  EXPECT_EQ(back.service_ns, "prod");
  EXPECT_EQ(back.port, 9080u);
  EXPECT_EQ(back.request.method, "POST");
  EXPECT_EQ(back.request.target, "/a b?x=1&y=%2F");
  EXPECT_EQ(back.request.headers, query.request.headers);
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// One query line -> its answer as meshctl prints it, or its error.
std::string answer_for(const cp::translate::Mesh& mesh, const cp::explain::Sources& sources,
                       const std::string& line) {
  auto w = words(line);
  auto source = parse_proxy_ref(w.at(0), "");
  auto service = parse_service_ref(w.at(1), source->ns);
  EXPECT_TRUE(source && service) << line;
  cp::explain::Query query{source->name, source->ns, service->name, service->ns, service->port, {}};
  if (w.size() > 2) query.request.method = w[2];
  if (w.size() > 3) query.request.target = w[3];
  for (std::size_t i = 4; i < w.size(); ++i) query.request.headers.push_back(*parse_header(w[i]));
  auto answer = cp::explain::why(mesh, sources, query);
  if (!answer) return "error: " + answer.error().message + "\n";
  // What the control plane serves must read back as what it was.
  auto reparsed = boost::json::parse(boost::json::serialize(*answer)).as_object();
  EXPECT_EQ(reparsed, *answer);
  return why_text(reparsed);
}

class WhyGolden : public testing::TestWithParam<const char*> {};

TEST_P(WhyGolden, AnswersEachQueryAsExpected) {
  auto dir = fs::path("controlplane/translate/testdata") / GetParam();
  cp::sources::DirectorySource source({dir / "manifests"});
  auto snapshot = source.load();
  auto mesh = cp::translate::compile(*snapshot.store);
  std::ifstream queries(dir / "why.queries");
  ASSERT_TRUE(queries) << dir / "why.queries";
  std::string out;
  for (std::string line; std::getline(queries, line);) {
    if (line.empty() || line.front() == '#') continue;
    out += "$ meshctl why " + line + "\n" +
           answer_for(*mesh, {*snapshot.store, snapshot.locations}, line) + "\n";
  }
  golden::expect_golden(dir / "expected" / "why.txt", out);
}

INSTANTIATE_TEST_SUITE_P(Cases, WhyGolden,
                         testing::Values("local_canary", "capture_mode", "policies_and_errors",
                                         "why_paths"),
                         [](const auto& test) { return std::string(test.param); });

}  // namespace
}  // namespace weft::meshctl
