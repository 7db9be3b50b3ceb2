// Trace context as it travels in request fields: W3C Trace Context
// (traceparent; tracestate is passed through untouched) and Zipkin's B3, in
// its single-field (b3) and multi-field (x-b3-*) forms. Parsing and
// formatting only: which span a hop starts is layers/trace.h's decision.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::proxy::tracing {

// 128 bits; all zero is invalid in both formats. A 64-bit B3 trace id has
// `high` 0.
struct TraceId {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  bool valid() const { return (high | low) != 0; }
  bool operator==(const TraceId&) const = default;
};

// 64 bits; zero is invalid.
using SpanId = std::uint64_t;

// The caller's sampling decision. B3 may carry ids without one ("defer"),
// or a decision without ids ("b3: 0").
enum class Sampling : std::uint8_t { kDeferred, kSampled, kNotSampled };

// Which B3 form a request carried, so that a hop answers in kind.
enum class B3Form : std::uint8_t { kNone, kSingle, kMulti };

// The context a request arrived with.
struct Incoming {
  TraceId trace;    // invalid: a decision without ids
  SpanId span = 0;  // the caller's span: this hop's parent
  Sampling sampling = Sampling::kDeferred;
  B3Form b3 = B3Form::kNone;
  bool operator==(const Incoming&) const = default;
};

// W3C traceparent "VV-TRACEID-SPANID-FLAGS" (lowercase hex). A future
// version may append "-..." fields; version ff, zero ids, uppercase hex
// and a version 00 value of another length are invalid (none).
std::optional<Incoming> parse_traceparent(std::string_view value);

// B3 single: "TRACEID-SPANID[-SAMPLING[-PARENT]]" with a 16- or 32-digit
// trace id, or a sampling decision alone ("0", "1", "d"; d is debug,
// which samples).
std::optional<Incoming> parse_b3(std::string_view value);

// B3 multi: x-b3-traceid and x-b3-spanid (both or neither), x-b3-sampled
// ("1"/"0", and "true"/"false" from old tracers), x-b3-flags "1" (debug).
struct B3Fields {
  std::optional<std::string_view> trace_id;
  std::optional<std::string_view> span_id;
  std::optional<std::string_view> sampled;
  std::optional<std::string_view> flags;
};
std::optional<Incoming> parse_b3_multi(const B3Fields& fields);

// Lowercase hex: 32 digits for a trace id, 16 for a span id.
std::string to_hex(const TraceId& trace);
std::string to_hex(SpanId span);

// "00-TRACEID-SPANID-01" (flags 00 when not sampled). In place, not on the
// heap: every request of a traced proxy gets one.
struct TraceparentText {
  std::array<char, 55> text;
  std::string_view view() const { return {text.data(), text.size()}; }
};
TraceparentText traceparent(const TraceId& trace, SpanId span, bool sampled);
// "TRACEID-SPANID-S".
std::string b3(const TraceId& trace, SpanId span, bool sampled);

}  // namespace weft::proxy::tracing

namespace weft::proxy::tracing {

// What one hop decided about a request (layers/trace.h): the Record's.
struct Hop {
  TraceId trace;
  SpanId span = 0;    // this hop's span; 0: the request is not traced here
  SpanId parent = 0;  // the caller's span; 0: this hop's span is a root
  bool sampled = false;
  bool recorded() const { return span != 0 && sampled; }
};

}  // namespace weft::proxy::tracing
