#include "proxy/tracing/encode.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/json_text.h"

namespace weft::proxy::tracing {

namespace {

// OTLP AnyValue attributes, written as a JSON array. Plain appends: a
// sampled span has a dozen, and fmt's machinery per value cost more than
// the rest of the span.
class Attributes {
 public:
  explicit Attributes(std::string& out) : out_(out) { out_ += '['; }
  ~Attributes() { out_ += ']'; }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;

  void string(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    start(key);
    out_ += R"({"stringValue":)";
    out_ += json_string(value);
    out_ += "}}";
  }
  void integer(std::string_view key, std::int64_t value) {
    start(key);
    out_ += R"({"intValue":")";
    out_ += std::to_string(value);
    out_ += "\"}}";
  }

 private:
  void start(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += R"({"key":")";
    out_ += key;  // the keys are this file's own: nothing to escape
    out_ += R"(","value":)";
  }
  std::string& out_;
  bool first_ = true;
};

// OpenTelemetry's status: an HTTP server span fails on a 5xx, a client
// span on any 4xx or 5xx, and either when the proxy failed the request.
bool is_error(const Span& span) {
  if (!span.response_flags.empty()) return true;
  return span.status >= (span.kind == SpanKind::kClient ? 400U : 500U);
}

// "host" and port of an authority ("[::1]:80" keeps its brackets off).
std::pair<std::string_view, std::string_view> split_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  auto colon = authority.rfind(':');
  auto bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

void otlp_span(std::string& out, const Span& span) {
  fmt::format_to(std::back_inserter(out), R"({{"traceId":"{}","spanId":"{}",)", to_hex(span.trace),
                 to_hex(span.id));
  if (span.parent != 0) {
    fmt::format_to(std::back_inserter(out), R"("parentSpanId":"{}",)", to_hex(span.parent));
  }
  // SPAN_KIND_SERVER is 2, SPAN_KIND_CLIENT 3.
  fmt::format_to(std::back_inserter(out),
                 R"("name":{},"kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}",)",
                 json_string(span.method), span.kind == SpanKind::kClient ? 3 : 2,
                 span.start_unix_nanos, span.start_unix_nanos + span.duration_nanos);
  out += R"("attributes":)";
  {
    Attributes attributes(out);
    attributes.string("http.request.method", span.method);
    attributes.string("url.path", span.path);
    auto [host, port] = split_authority(span.authority);
    attributes.string("server.address", host);
    unsigned port_number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (!port.empty() && ec == std::errc() && end == port.data() + port.size() && port_number > 0 &&
        port_number < 65536) {
      attributes.integer("server.port", port_number);
    }
    if (span.status != 0) attributes.integer("http.response.status_code", span.status);
    if (span.grpc_status) attributes.integer("rpc.grpc.status_code", *span.grpc_status);
    attributes.string("peer.service", span.peer_service);
    attributes.string("network.peer.address", span.upstream);
    attributes.string("weft.response_flags", span.response_flags);
    attributes.integer("weft.attempts", span.attempts);
    attributes.string("weft.source_workload", span.source_workload);
    attributes.string("weft.destination_workload", span.destination_workload);
  }
  out += R"(,"events":[)";
  for (std::size_t i = 0; i < span.retry_unix_nanos.size(); ++i) {
    if (i > 0) out += ',';
    fmt::format_to(std::back_inserter(out), R"({{"timeUnixNano":"{}","name":"retry","attributes":)",
                   span.retry_unix_nanos[i]);
    {
      Attributes attributes(out);
      attributes.integer("weft.attempt", static_cast<std::int64_t>(i) + 2);
    }
    out += '}';
  }
  // STATUS_CODE_ERROR is 2; unset (0) otherwise, as the conventions ask.
  fmt::format_to(std::back_inserter(out), R"(],"status":{{"code":{}}}}})", is_error(span) ? 2 : 0);
}

// Zipkin's tag values are strings.
void zipkin_tag(std::string& out, bool& first, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (!first) out += ',';
  first = false;
  fmt::format_to(std::back_inserter(out), "{}:{}", json_string(key), json_string(value));
}

void zipkin_span(std::string& out, const Span& span, const Reporter& reporter) {
  fmt::format_to(std::back_inserter(out), R"({{"traceId":"{}","id":"{}",)", to_hex(span.trace),
                 to_hex(span.id));
  if (span.parent != 0) {
    fmt::format_to(std::back_inserter(out), R"("parentId":"{}",)", to_hex(span.parent));
  }
  // Microseconds; a span shorter than one is rounded up, since Zipkin
  // reads a duration of 0 as unknown.
  fmt::format_to(std::back_inserter(out), R"("kind":"{}","name":{},"timestamp":{},"duration":{},)",
                 span.kind == SpanKind::kClient ? "CLIENT" : "SERVER", json_string(span.method),
                 span.start_unix_nanos / 1000,
                 std::max<std::int64_t>(1, span.duration_nanos / 1000));
  fmt::format_to(std::back_inserter(out), R"("localEndpoint":{{"serviceName":{}}},)",
                 json_string(reporter.service_name));
  if (!span.peer_service.empty()) {
    fmt::format_to(std::back_inserter(out), R"("remoteEndpoint":{{"serviceName":{}}},)",
                   json_string(span.peer_service));
  }
  out += R"("tags":{)";
  bool first = true;
  zipkin_tag(out, first, "http.method", span.method);
  zipkin_tag(out, first, "http.path", span.path);
  zipkin_tag(out, first, "http.host", span.authority);
  if (span.status != 0) zipkin_tag(out, first, "http.status_code", std::to_string(span.status));
  if (span.grpc_status) {
    zipkin_tag(out, first, "grpc.status_code", std::to_string(*span.grpc_status));
  }
  zipkin_tag(out, first, "peer.service", span.peer_service);
  zipkin_tag(out, first, "upstream", span.upstream);
  zipkin_tag(out, first, "weft.response_flags", span.response_flags);
  zipkin_tag(out, first, "weft.attempts", std::to_string(span.attempts));
  zipkin_tag(out, first, "weft.source_workload", span.source_workload);
  zipkin_tag(out, first, "weft.destination_workload", span.destination_workload);
  // Zipkin marks a failed span with an "error" tag.
  if (is_error(span)) {
    zipkin_tag(out, first, "error",
               span.response_flags.empty() ? std::to_string(span.status) : span.response_flags);
  }
  out += '}';
  if (!span.retry_unix_nanos.empty()) {
    out += R"(,"annotations":[)";
    for (std::size_t i = 0; i < span.retry_unix_nanos.size(); ++i) {
      if (i > 0) out += ',';
      fmt::format_to(std::back_inserter(out), R"({{"timestamp":{},"value":"retry {}"}})",
                     span.retry_unix_nanos[i] / 1000, i + 2);
    }
    out += ']';
  }
  out += '}';
}

}  // namespace

std::string otlp_json(std::span<const Span> spans, const Reporter& reporter) {
  std::string out = R"({"resourceSpans":[{"resource":{"attributes":)";
  {
    Attributes attributes(out);
    attributes.string("service.name", reporter.service_name);
    attributes.string("weft.workload", reporter.workload);
  }
  out += R"(},"scopeSpans":[{"scope":{"name":"weft.mesh-proxy"},"spans":[)";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += ',';
    otlp_span(out, spans[i]);
  }
  out += "]}]}]}";
  return out;
}

std::string zipkin_json(std::span<const Span> spans, const Reporter& reporter) {
  std::string out = "[";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += ',';
    zipkin_span(out, spans[i], reporter);
  }
  out += ']';
  return out;
}

}  // namespace weft::proxy::tracing
