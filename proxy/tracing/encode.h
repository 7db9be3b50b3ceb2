// Spans as the collectors take them: OTLP/HTTP JSON (POST /v1/traces) and
// Zipkin v2 JSON (POST /api/v2/spans). Pure; the exporter sends the text.
//
// OTLP's JSON mapping differs from protobuf's canonical one in ways
// collectors enforce: trace and span ids are lowercase hex (not base64),
// 64-bit integers and nanosecond times are strings, and field names are
// lowerCamelCase. Zipkin's times are microseconds as numbers.
#pragma once

#include <span>
#include <string>

#include "proxy/tracing/span.h"

namespace weft::proxy::tracing {

// An ExportTraceServiceRequest of one resource and one scope.
std::string otlp_json(std::span<const Span> spans, const Reporter& reporter);

// A list of Zipkin v2 spans.
std::string zipkin_json(std::span<const Span> spans, const Reporter& reporter);

}  // namespace weft::proxy::tracing
