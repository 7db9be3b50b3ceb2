#include "proxy/layers/trace.h"

#include "proxy/metrics/workload.h"

namespace weft::proxy::layers::trace {

namespace {

// Sampling resolution: a millionth, so 0.0001% is the smallest rate.
constexpr std::uint64_t kSampleScale = 1'000'000;

std::string workload_name(const metrics::Workload* workload) {
  if (workload == nullptr) return {};
  return workload->name + "." + workload->ns;
}

std::int64_t unix_nanos(std::chrono::steady_clock::time_point when,
                        std::chrono::steady_clock::time_point steady_now,
                        std::chrono::system_clock::time_point unix_now) {
  auto at =
      unix_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(steady_now - when);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

}  // namespace

std::optional<tracing::Incoming> extract(const ContextValues& values) {
  std::optional<tracing::Incoming> b3;
  if (values.b3) {
    b3 = tracing::parse_b3(*values.b3);
  } else if (values.has_b3_multi()) {
    b3 = tracing::parse_b3_multi({values.trace_id, values.span_id, values.sampled, values.flags});
  }
  if (values.traceparent) {
    if (auto parsed = tracing::parse_traceparent(*values.traceparent)) {
      if (b3) parsed->b3 = b3->b3;
      return parsed;
    }
  }
  return b3;
}

std::size_t fields_added(const ContextValues& values) {
  // b3 too when the multi fields are there but malformed: the request then
  // has no B3 context, and a Zipkin backend adds b3.
  std::size_t added = (values.traceparent ? 0 : 1) + (values.b3 ? 0 : 1);
  if (!values.has_b3_multi()) return added;
  for (const auto* present :
       {&values.trace_id, &values.span_id, &values.parent_span_id, &values.sampled}) {
    added += present->has_value() ? 0 : 1;
  }
  return added;
}

Draws draw(FastRandom& random) { return {random(), random(), random(), random()}; }

Decision decide(const std::optional<tracing::Incoming>& incoming, const Settings& settings,
                const Draws& draws) {
  using tracing::Sampling;
  if (incoming && incoming->sampling == Sampling::kNotSampled) return {};
  Decision decision;
  decision.rewrite = true;
  auto& hop = decision.hop;
  if (incoming && incoming->trace.valid()) {
    hop.trace = incoming->trace;
    hop.parent = incoming->span;
  } else {
    // A new trace: a zero id is invalid, so the low bit keeps it valid.
    hop.trace = {draws.trace_high, draws.trace_low == 0 ? 1 : draws.trace_low};
  }
  hop.span = draws.span == 0 ? 1 : draws.span;
  if (incoming && incoming->sampling == Sampling::kSampled) {
    hop.sampled = true;
  } else {
    const auto threshold = static_cast<std::uint64_t>(settings.sampling_percent * 10'000);
    hop.sampled = draws.sample % kSampleScale < threshold;
  }
  decision.b3 = incoming ? incoming->b3 : tracing::B3Form::kNone;
  if (decision.b3 == tracing::B3Form::kNone && settings.b3_when_absent) {
    decision.b3 = tracing::B3Form::kSingle;
  }
  return decision;
}

std::optional<tracing::Span> span_of(const Record& record, const Request& request,
                                     std::chrono::steady_clock::time_point steady_now,
                                     std::chrono::system_clock::time_point unix_now) {
  if (!record.trace.recorded()) return std::nullopt;
  tracing::Span span;
  span.trace = record.trace.trace;
  span.id = record.trace.span;
  span.parent = record.trace.parent;
  span.kind = request.outbound ? tracing::SpanKind::kClient : tracing::SpanKind::kServer;
  span.start_unix_nanos = unix_nanos(record.start, steady_now, unix_now);
  span.duration_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(steady_now - record.start).count();
  span.method = request.method;
  span.path = request.target.substr(0, request.target.find('?'));
  span.authority = request.authority;
  span.status = record.status;
  span.grpc_status = request.grpc_status;
  if (record.service != nullptr) span.peer_service = *record.service;
  span.upstream = record.upstream;
  span.response_flags = record.error;
  span.attempts = record.attempts;
  for (auto retry : record.retries) {
    span.retry_unix_nanos.push_back(unix_nanos(retry, steady_now, unix_now));
  }
  span.source_workload = workload_name(request.outbound ? request.self : record.source);
  span.destination_workload = workload_name(request.inbound ? request.self : record.destination);
  return span;
}

void report(tracing::SpanBuffer& spans, const Record& record, const Request& request) {
  if (!record.trace.recorded()) return;
  auto span =
      span_of(record, request, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  if (span) spans.push(std::move(*span));
}

}  // namespace weft::proxy::layers::trace
