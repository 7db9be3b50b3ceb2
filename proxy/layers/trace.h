// The trace layer: which span a hop starts for a request and what trace
// context it passes on (decide, propagate), and the span it reports when
// the request ends (span_of). Head-based sampling: the first hop without a
// caller's decision samples by the MeshConfig percentage, and every later
// hop honours the decision it is sent, so a trace is whole or absent.
// Pure: table-tested; the codecs call it with their own field containers.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"
#include "proxy/layers/exchange.h"
#include "proxy/tracing/buffer.h"
#include "proxy/tracing/context.h"
#include "proxy/tracing/span.h"

namespace weft::proxy::layers::trace {

// MeshConfig spec.tracing, as a snapshot holds it.
struct Settings {
  double sampling_percent = 1;
  // Zipkin backends: requests that came with no B3 fields get a b3 field
  // too, for applications instrumented with B3 only.
  bool b3_when_absent = false;
};

// The random numbers a decision uses, drawn by the caller.
struct Draws {
  std::uint64_t trace_high = 0;
  std::uint64_t trace_low = 0;
  std::uint64_t span = 0;
  std::uint64_t sample = 0;
};
Draws draw(FastRandom& random);

struct Decision {
  tracing::Hop hop;
  // Whether the request's context fields are rewritten for the next hop:
  // not when the caller decided against sampling (passed on as it came).
  bool rewrite = false;
  tracing::B3Form b3 = tracing::B3Form::kNone;  // the B3 form to write, besides traceparent
};

// A valid traceparent wins over B3 (as in OpenTelemetry's composite
// propagator); a malformed one is ignored and the trace restarts.
Decision decide(const std::optional<tracing::Incoming>& incoming, const Settings& settings,
                const Draws& draws);

inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kB3 = "b3";
inline constexpr std::string_view kB3TraceId = "x-b3-traceid";
inline constexpr std::string_view kB3SpanId = "x-b3-spanid";
inline constexpr std::string_view kB3ParentSpanId = "x-b3-parentspanid";
inline constexpr std::string_view kB3Sampled = "x-b3-sampled";
inline constexpr std::string_view kB3Flags = "x-b3-flags";
// context_values() tells these apart by length, two by two.
static_assert(kTraceparent.size() == kB3SpanId.size() && kB3TraceId.size() == kB3Sampled.size());

// ASCII case-insensitive equality of names of the same length.
inline bool iequals(std::string_view a, std::string_view b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

// Either codec's request fields: iterable (each field's name and value as
// name_string()/value() or name/value), with a replace_field() beside the
// container (http1/fields.h, message.h) that puts one field of a name in
// place of those there were.
template <class Fields>
concept ContextFields = requires(Fields& fields, std::string_view name, std::string_view value) {
  fields.begin();
  fields.end();
  replace_field(fields, name, value, true);
};

// The first value of each context field a request carries.
struct ContextValues {
  std::optional<std::string_view> traceparent, b3, trace_id, span_id, parent_span_id, sampled,
      flags;
  bool has_b3_multi() const { return trace_id || span_id || parent_span_id || sampled || flags; }
};

// One pass over the fields: a lookup per name would walk them seven times.
template <ContextFields Fields>
ContextValues context_values(const Fields& fields) {
  ContextValues values;
  const auto match = [](std::string_view name, std::string_view value, std::string_view wanted,
                        std::optional<std::string_view>& slot) {
    if (slot || !iequals(name, wanted)) return false;
    slot = value;
    return true;
  };
  for (const auto& field : fields) {
    std::string_view name;
    std::string_view value;
    if constexpr (requires { field.name_string(); }) {
      name = field.name_string();
      value = field.value();
    } else {
      name = field.name;
      value = field.value;
    }
    // By length first: most fields of a request are none of these.
    switch (name.size()) {
      case kB3.size():
        match(name, value, kB3, values.b3);
        break;
      case kB3Flags.size():
        match(name, value, kB3Flags, values.flags);
        break;
      case kTraceparent.size():  // and kB3SpanId
        match(name, value, kTraceparent, values.traceparent) ||
            match(name, value, kB3SpanId, values.span_id);
        break;
      case kB3TraceId.size():  // and kB3Sampled
        match(name, value, kB3TraceId, values.trace_id) ||
            match(name, value, kB3Sampled, values.sampled);
        break;
      case kB3ParentSpanId.size():
        match(name, value, kB3ParentSpanId, values.parent_span_id);
        break;
      default:
        break;
    }
  }
  return values;
}

// The context the request arrived with, with the B3 form it carried (so
// that both are rewritten when both came).
std::optional<tracing::Incoming> extract(const ContextValues& values);
template <ContextFields Fields>
std::optional<tracing::Incoming> extract(const Fields& fields) {
  return extract(context_values(fields));
}

// Writes this hop's context into the request for the next hop; `values`
// are the context fields it came with.
template <ContextFields Fields>
void propagate(Fields& fields, const Decision& decision, const ContextValues& values) {
  if (!decision.rewrite) return;
  const auto& hop = decision.hop;
  replace_field(fields, kTraceparent, tracing::traceparent(hop.trace, hop.span, hop.sampled).view(),
                values.traceparent.has_value());
  if (decision.b3 == tracing::B3Form::kSingle) {
    replace_field(fields, kB3, tracing::b3(hop.trace, hop.span, hop.sampled),
                  values.b3.has_value());
  } else if (decision.b3 == tracing::B3Form::kMulti) {
    replace_field(fields, kB3TraceId, tracing::to_hex(hop.trace), values.trace_id.has_value());
    replace_field(fields, kB3SpanId, tracing::to_hex(hop.span), values.span_id.has_value());
    replace_field(fields, kB3Sampled, std::string_view(hop.sampled ? "1" : "0"),
                  values.sampled.has_value());
    if (hop.parent != 0) {
      replace_field(fields, kB3ParentSpanId, tracing::to_hex(hop.parent),
                    values.parent_span_id.has_value());
    }
  }
}

// Decides the request's hop, records it in `record` and rewrites the
// request's context fields: what a codec calls once it knows the request
// is routed.
template <ContextFields Fields>
void start(Record& record, Fields& fields, const Settings& settings, FastRandom& random) {
  const auto values = context_values(fields);
  const auto decision = decide(extract(values), settings, draw(random));
  propagate(fields, decision, values);
  record.trace = decision.hop;
}

// How many fields propagate() may add to a request: traceparent and b3
// when it lacks them, and those of B3 multi's it lacks when it has some.
// Counted alike at every hop, what one hop adds and the next counts never
// exceed what the first counted.
std::size_t fields_added(const ContextValues& values);
template <ContextFields Fields>
std::size_t fields_added(const Fields& fields) {
  return fields_added(context_values(fields));
}
inline constexpr std::size_t kMaxFieldsAdded = 6;

// What the codec knows of a finished request besides its Record.
struct Request {
  // The listener's side of its workload: an outbound sidecar reports the
  // client side of a hop, every other listener the server side.
  bool outbound = false;
  bool inbound = false;
  std::string_view method;
  std::string_view target;  // path and query, as sent
  std::string_view authority;
  std::optional<unsigned> grpc_status;
  // This proxy's workload: the caller of a client span, the callee of a
  // server span on an inbound listener. Null: none.
  const metrics::Workload* self = nullptr;
};

// The span a request reports when it ends, if this hop records one.
// `steady_now` and `unix_now` are the same instant on both clocks.
std::optional<tracing::Span> span_of(const Record& record, const Request& request,
                                     std::chrono::steady_clock::time_point steady_now,
                                     std::chrono::system_clock::time_point unix_now);

// Records the span of a finished request, if it has one, in its worker's
// buffer.
void report(tracing::SpanBuffer& spans, const Record& record, const Request& request);

}  // namespace weft::proxy::layers::trace
