#include "proxy/tracing/context.h"

#include <gtest/gtest.h>

namespace weft::proxy::tracing {
namespace {

constexpr TraceId kTrace{0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
constexpr SpanId kSpan = 0x00f067aa0ba902b7;

TEST(Traceparent, ParsesWhatTheSpecificationAllows) {
  struct Case {
    std::string_view value;
    std::optional<Incoming> expected;
  };
  const Incoming sampled{kTrace, kSpan, Sampling::kSampled, B3Form::kNone};
  const Incoming unsampled{kTrace, kSpan, Sampling::kNotSampled, B3Form::kNone};
  const Case cases[] = {
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", sampled},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", unsampled},
      // Other flags are ignored; only bit 0 samples.
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", sampled},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", unsampled},
      // A later version may append fields after a dash.
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes", sampled},
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", sampled},
      // Invalid: version ff, version 00 with more, zero ids, uppercase,
      // short ids, missing dashes.
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", std::nullopt},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", std::nullopt},
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", std::nullopt},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", std::nullopt},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", std::nullopt},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", std::nullopt},
      {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", std::nullopt},
      {"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", std::nullopt},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_traceparent(c.value), c.expected) << c.value;
}

TEST(B3Single, ParsesIdsAndDecisions) {
  struct Case {
    std::string_view value;
    std::optional<Incoming> expected;
  };
  const Case cases[] = {
      {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
       Incoming{kTrace, kSpan, Sampling::kSampled, B3Form::kSingle}},
      {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d",
       Incoming{kTrace, kSpan, Sampling::kSampled, B3Form::kSingle}},
      {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0-0000000000000001",
       Incoming{kTrace, kSpan, Sampling::kNotSampled, B3Form::kSingle}},
      {"a3ce929d0e0e4736-00f067aa0ba902b7",
       Incoming{{0, 0xa3ce929d0e0e4736}, kSpan, Sampling::kDeferred, B3Form::kSingle}},
      {"0", Incoming{{}, 0, Sampling::kNotSampled, B3Form::kSingle}},
      {"1", Incoming{{}, 0, Sampling::kSampled, B3Form::kSingle}},
      {"2", std::nullopt},
      {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x", std::nullopt},
      {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-zz", std::nullopt},
      {"4bf92f3577b34da6a3ce929d0e0e4736", std::nullopt},
      {"4bf92f-00f067aa0ba902b7-1", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_b3(c.value), c.expected) << c.value;
}

TEST(B3Multi, ParsesFieldsAndOldBooleans) {
  struct Case {
    B3Fields fields;
    std::optional<Incoming> expected;
  };
  const Case cases[] = {
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "1", std::nullopt},
       Incoming{kTrace, kSpan, Sampling::kSampled, B3Form::kMulti}},
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "true", std::nullopt},
       Incoming{kTrace, kSpan, Sampling::kSampled, B3Form::kMulti}},
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "false", std::nullopt},
       Incoming{kTrace, kSpan, Sampling::kNotSampled, B3Form::kMulti}},
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", std::nullopt, std::nullopt},
       Incoming{kTrace, kSpan, Sampling::kDeferred, B3Form::kMulti}},
      // Debug samples whatever x-b3-sampled says.
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "0", "1"},
       Incoming{kTrace, kSpan, Sampling::kSampled, B3Form::kMulti}},
      {{std::nullopt, std::nullopt, "0", std::nullopt},
       Incoming{{}, 0, Sampling::kNotSampled, B3Form::kMulti}},
      {{"4bf92f3577b34da6a3ce929d0e0e4736", std::nullopt, "1", std::nullopt}, std::nullopt},
      {{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "yes", std::nullopt}, std::nullopt},
      {{std::nullopt, std::nullopt, std::nullopt, std::nullopt}, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_b3_multi(c.fields), c.expected) << c.fields.trace_id.value_or("-");
  }
}

TEST(Format, WritesLowercaseHexOfFixedWidth) {
  EXPECT_EQ(traceparent(kTrace, kSpan, true).view(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(traceparent({0, 1}, 2, false).view(),
            "00-00000000000000000000000000000001-0000000000000002-00");
  EXPECT_EQ(b3(kTrace, kSpan, true), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1");
  EXPECT_EQ(to_hex(kTrace), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(SpanId{0xff}), "00000000000000ff");
  // What is written parses back.
  auto parsed = parse_traceparent(traceparent(kTrace, kSpan, true).view());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trace, kTrace);
  EXPECT_EQ(parsed->span, kSpan);
}

}  // namespace
}  // namespace weft::proxy::tracing
