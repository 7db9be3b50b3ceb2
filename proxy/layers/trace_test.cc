#include "proxy/layers/trace.h"

#include <gtest/gtest.h>

#include <vector>

#include "proxy/metrics/workload.h"

namespace weft::proxy::layers::trace {
namespace {

using tracing::B3Form;
using tracing::Incoming;
using tracing::Sampling;
using tracing::TraceId;

constexpr TraceId kTrace{0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
constexpr tracing::SpanId kCaller = 0x00f067aa0ba902b7;
// Draws: a new trace 0x11.., this hop's span 0x33, and a sample draw of
// 500,000 (50% of the scale): sampled below 50%, not at or above.
constexpr Draws kDraws{0x1111, 0x2222, 0x33, 500'000};

TEST(Decide, HonoursTheCallerAndSamplesTheRest) {
  struct Case {
    const char* name;
    std::optional<Incoming> incoming;
    double percent;
    Decision expected;
  };
  const Case cases[] = {
      {"a sampled caller is sampled at 0%",
       Incoming{kTrace, kCaller, Sampling::kSampled},
       0,
       {{kTrace, 0x33, kCaller, true}, true, B3Form::kNone}},
      {"an unsampled caller passes through at 100%",
       Incoming{kTrace, kCaller, Sampling::kNotSampled},
       100,
       {}},
      {"b3: 0 passes through", Incoming{{}, 0, Sampling::kNotSampled, B3Form::kSingle}, 100, {}},
      {"a deferred caller is sampled by percentage (above the draw)",
       Incoming{kTrace, kCaller, Sampling::kDeferred, B3Form::kMulti},
       50.0001,
       {{kTrace, 0x33, kCaller, true}, true, B3Form::kMulti}},
      {"a deferred caller is sampled by percentage (at the draw)",
       Incoming{kTrace, kCaller, Sampling::kDeferred, B3Form::kMulti},
       50,
       {{kTrace, 0x33, kCaller, false}, true, B3Form::kMulti}},
      {"no caller: a new root trace, decided here",
       std::nullopt,
       100,
       {{{0x1111, 0x2222}, 0x33, 0, true}, true, B3Form::kNone}},
      {"no caller, 0%: a new trace, not sampled, still propagated",
       std::nullopt,
       0,
       {{{0x1111, 0x2222}, 0x33, 0, false}, true, B3Form::kNone}},
      {"b3: 1 without ids: a new trace, sampled",
       Incoming{{}, 0, Sampling::kSampled, B3Form::kSingle},
       0,
       {{{0x1111, 0x2222}, 0x33, 0, true}, true, B3Form::kSingle}},
  };
  for (const auto& c : cases) {
    auto decision = decide(c.incoming, {c.percent, false}, kDraws);
    EXPECT_EQ(decision.rewrite, c.expected.rewrite) << c.name;
    EXPECT_EQ(decision.b3, c.expected.b3) << c.name;
    EXPECT_EQ(decision.hop.trace, c.expected.hop.trace) << c.name;
    EXPECT_EQ(decision.hop.span, c.expected.hop.span) << c.name;
    EXPECT_EQ(decision.hop.parent, c.expected.hop.parent) << c.name;
    EXPECT_EQ(decision.hop.sampled, c.expected.hop.sampled) << c.name;
  }
}

TEST(Decide, NeverMakesAZeroId) {
  auto decision = decide(std::nullopt, {100, false}, {0, 0, 0, 0});
  EXPECT_TRUE(decision.hop.trace.valid());
  EXPECT_NE(decision.hop.span, 0U);
}

TEST(Decide, SamplesAboutThePercentage) {
  FastRandom random(7);
  int sampled = 0;
  constexpr int kRequests = 100'000;
  for (int i = 0; i < kRequests; ++i) {
    sampled += decide(std::nullopt, {1, false}, draw(random)).hop.sampled ? 1 : 0;
  }
  // 1% of 100,000 is 1,000; the standard deviation is about 31.
  EXPECT_GT(sampled, 850);
  EXPECT_LT(sampled, 1150);
}

TEST(Decide, ZipkinBackendsAddB3WhenNoneCame) {
  auto decision = decide(std::nullopt, {100, true}, kDraws);
  EXPECT_EQ(decision.b3, B3Form::kSingle);
  Incoming multi{kTrace, kCaller, Sampling::kSampled, B3Form::kMulti};
  EXPECT_EQ(decide(multi, {100, true}, kDraws).b3, B3Form::kMulti);
}

// A request's fields, as the HTTP/2 codec's container holds them (names
// compared without case, as both codecs do).
struct FakeField {
  std::string name, value;
};
struct FakeFields {
  FakeFields() = default;
  FakeFields(std::initializer_list<std::pair<std::string, std::string>> fields) {
    for (const auto& [name, value] : fields) list.push_back({name, value});
  }
  std::vector<FakeField> list;
  auto begin() const { return list.begin(); }
  auto end() const { return list.end(); }
  void set(std::string_view name, std::string value) {
    std::erase_if(list, [&](const FakeField& f) {
      return f.name.size() == name.size() && iequals(f.name, name);
    });
    list.push_back({std::string(name), std::move(value)});
  }
  std::size_t count(std::string_view name) const {
    return std::count_if(list.begin(), list.end(), [&](const FakeField& f) {
      return f.name.size() == name.size() && iequals(f.name, name);
    });
  }
  // As the codecs' replace_field: the caller says whether the name is there.
  friend void replace_field(FakeFields& fields, std::string_view name, std::string_view value,
                            bool present) {
    EXPECT_EQ(present, fields.count(name) > 0) << name;
    fields.set(name, std::string(value));
  }
  std::string operator[](std::string_view name) const {
    for (const auto& f : list) {
      if (f.name == name) return f.value;
    }
    return "";
  }
};

TEST(Extract, PrefersAValidTraceparentAndKeepsTheB3Form) {
  FakeFields fields{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                    {"B3", "a3ce929d0e0e4736-00f067aa0ba902b7-0"}};  // any case
  auto incoming = extract(fields);
  ASSERT_TRUE(incoming);
  EXPECT_EQ(incoming->trace, kTrace);
  EXPECT_EQ(incoming->sampling, Sampling::kSampled);
  EXPECT_EQ(incoming->b3, B3Form::kSingle);
  // A malformed traceparent is ignored: B3 decides.
  fields.set("traceparent", "00-garbage");
  incoming = extract(fields);
  ASSERT_TRUE(incoming);
  EXPECT_EQ(incoming->sampling, Sampling::kNotSampled);
  EXPECT_EQ(extract(FakeFields{}), std::nullopt);
}

TEST(Start, RewritesTheContextForTheNextHop) {
  FakeFields fields{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                    {"tracestate", "congo=t61rcWkgMzE"},
                    {"x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"},
                    {"x-b3-spanid", "00f067aa0ba902b7"},
                    {"x-b3-sampled", "1"}};
  Record record;
  FastRandom random(1);
  start(record, fields, {0, false}, random);
  ASSERT_TRUE(record.trace.recorded());
  EXPECT_EQ(record.trace.trace, kTrace);
  EXPECT_EQ(record.trace.parent, kCaller);
  const auto span = tracing::to_hex(record.trace.span);
  EXPECT_EQ(fields["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-" + span + "-01");
  EXPECT_EQ(fields["x-b3-spanid"], span);
  EXPECT_EQ(fields["x-b3-parentspanid"], "00f067aa0ba902b7");
  EXPECT_EQ(fields["x-b3-sampled"], "1");
  EXPECT_EQ(fields["tracestate"], "congo=t61rcWkgMzE");  // passed on untouched
}

TEST(Start, LeavesAnUnsampledContextAsItCame) {
  const std::string unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  FakeFields fields{{"traceparent", unsampled}};
  Record record;
  FastRandom random(1);
  start(record, fields, {100, false}, random);
  EXPECT_FALSE(record.trace.recorded());
  EXPECT_EQ(fields["traceparent"], unsampled);
  EXPECT_EQ(fields.list.size(), 1U);
}

TEST(FieldsAdded, CountsWhatPropagateMayAdd) {
  struct Case {
    FakeFields fields;
    std::size_t added;
  };
  const Case cases[] = {
      {{}, 2},                                   // traceparent and b3
      {{{"traceparent", "x"}}, 1},               // b3
      {{{"Traceparent", "x"}, {"b3", "0"}}, 0},  // replaced in place
      {{{"x-b3-sampled", "1"}}, 5},              // traceparent, b3, three ids
      {{{"x-b3-flags", "1"}}, 6},                // traceparent, b3 and four
      {{{"x-b3-traceid", "a"}, {"x-b3-spanid", "b"}}, 4},
      // Malformed multi fields: no B3 context, so b3 may be added.
      {{{"x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"}}, 5},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(fields_added(c.fields), c.added);
    EXPECT_LE(c.added, kMaxFieldsAdded);
  }
  // What start() really adds stays within the count.
  for (const auto& c : cases) {
    auto fields = c.fields;
    Record record;
    FastRandom random(3);
    start(record, fields, {100, true}, random);
    EXPECT_LE(fields.list.size() + fields_added(fields), c.fields.list.size() + c.added);
  }
}

TEST(SpanOf, ReportsTheHopWithTheMeshAttributes) {
  const metrics::Workload self{"reviews", "default", "reviews", "v1", "reviews"};
  const metrics::Workload caller{"productpage", "default", "productpage", "v1", "bookinfo"};
  const std::string service = "ratings.default.svc.cluster.local";
  Record record;
  const auto now = std::chrono::steady_clock::now();
  record.start = now - std::chrono::milliseconds(25);
  record.retries = {now - std::chrono::milliseconds(10)};
  record.status = 503;
  record.error = "upstream_connect_timeout";
  record.attempts = 2;
  record.service = &service;
  record.source = &caller;
  record.trace = {kTrace, 0x33, kCaller, true};
  const auto unix_now = std::chrono::system_clock::time_point(std::chrono::seconds(1'000'000));
  const Request inbound{false, true, "GET", "/ratings/1?x=y", "ratings:9080", std::nullopt, &self};
  auto span = span_of(record, inbound, now, unix_now);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->kind, tracing::SpanKind::kServer);
  EXPECT_EQ(span->trace, kTrace);
  EXPECT_EQ(span->id, 0x33U);
  EXPECT_EQ(span->parent, kCaller);
  EXPECT_EQ(span->start_unix_nanos, 1'000'000'000'000'000 - 25'000'000);
  EXPECT_EQ(span->duration_nanos, 25'000'000);
  EXPECT_EQ(span->path, "/ratings/1");
  EXPECT_EQ(span->status, 503U);
  EXPECT_EQ(span->response_flags, "upstream_connect_timeout");
  EXPECT_EQ(span->attempts, 2U);
  ASSERT_EQ(span->retry_unix_nanos.size(), 1U);
  EXPECT_EQ(span->retry_unix_nanos[0], 1'000'000'000'000'000 - 10'000'000);
  EXPECT_EQ(span->peer_service, service);
  EXPECT_EQ(span->source_workload, "productpage.default");
  EXPECT_EQ(span->destination_workload, "reviews.default");

  const Request outbound{true, false, "GET", "/", "ratings:9080", std::nullopt, &self};
  span = span_of(record, outbound, now, unix_now);
  ASSERT_TRUE(span);
  EXPECT_EQ(span->kind, tracing::SpanKind::kClient);
  EXPECT_EQ(span->source_workload, "reviews.default");

  record.trace.sampled = false;
  EXPECT_FALSE(span_of(record, inbound, now, unix_now));
}

}  // namespace
}  // namespace weft::proxy::layers::trace
