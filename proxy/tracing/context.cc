#include "proxy/tracing/context.h"

namespace weft::proxy::tracing {

namespace {

// Lowercase hex digits only, as both formats write them: a value in
// uppercase is not one this or any conforming tracer sent.
std::optional<std::uint64_t> parse_hex(std::string_view digits) {
  if (digits.empty() || digits.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    value = (value << 4) | digit;
  }
  return value;
}

// 32 digits, or 16 (a 64-bit B3 trace id); none when zero.
std::optional<TraceId> parse_trace_id(std::string_view digits) {
  TraceId trace;
  if (digits.size() == 32) {
    auto high = parse_hex(digits.substr(0, 16));
    auto low = parse_hex(digits.substr(16));
    if (!high || !low) return std::nullopt;
    trace = {*high, *low};
  } else if (digits.size() == 16) {
    auto low = parse_hex(digits);
    if (!low) return std::nullopt;
    trace.low = *low;
  } else {
    return std::nullopt;
  }
  if (!trace.valid()) return std::nullopt;
  return trace;
}

std::optional<SpanId> parse_span_id(std::string_view digits) {
  if (digits.size() != 16) return std::nullopt;
  auto span = parse_hex(digits);
  if (!span || *span == 0) return std::nullopt;
  return span;
}

std::optional<Sampling> parse_b3_sampling(std::string_view text) {
  if (text == "1" || text == "d") return Sampling::kSampled;
  if (text == "0") return Sampling::kNotSampled;
  return std::nullopt;
}

// Each byte's two lowercase hex digits.
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> pairs{};
  for (std::size_t i = 0; i < pairs.size(); ++i) pairs[i] = {kDigits[i >> 4], kDigits[i & 0xf]};
  return pairs;
}();

// 16 lowercase digits at `out`, most significant first: a byte a step.
void write_hex(char* out, std::uint64_t value) {
  for (int i = 14; i >= 0; i -= 2) {
    const auto& pair = kHexPairs[value & 0xff];
    out[i] = pair[0];
    out[i + 1] = pair[1];
    value >>= 8;
  }
}

// "TRACEID-SPANID" at `out` (49 bytes): what both formats share. Written in
// place, since every request of a traced proxy gets one.
char* write_ids(char* out, const TraceId& trace, SpanId span) {
  write_hex(out, trace.high);
  write_hex(out + 16, trace.low);
  out[32] = '-';
  write_hex(out + 33, span);
  return out + 49;
}

}  // namespace

std::optional<Incoming> parse_traceparent(std::string_view value) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  constexpr std::size_t kLength = 55;
  if (value.size() < kLength) return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  auto version = parse_hex(value.substr(0, 2));
  if (!version || *version == 0xff) return std::nullopt;
  if (*version == 0 ? value.size() != kLength : value.size() > kLength && value[kLength] != '-') {
    return std::nullopt;
  }
  auto id = parse_trace_id(value.substr(3, 32));
  auto span = parse_span_id(value.substr(36, 16));
  auto flags = parse_hex(value.substr(53, 2));
  if (!id || !span || !flags) return std::nullopt;
  return Incoming{*id, *span, (*flags & 1) != 0 ? Sampling::kSampled : Sampling::kNotSampled,
                  B3Form::kNone};
}

std::optional<Incoming> parse_b3(std::string_view value) {
  if (value.size() == 1) {
    auto sampling = parse_b3_sampling(value);
    if (!sampling) return std::nullopt;
    return Incoming{{}, 0, *sampling, B3Form::kSingle};
  }
  auto dash = value.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto trace = parse_trace_id(value.substr(0, dash));
  value.remove_prefix(dash + 1);
  dash = value.find('-');
  auto span = parse_span_id(value.substr(0, dash));
  if (!trace || !span) return std::nullopt;
  Incoming incoming{*trace, *span, Sampling::kDeferred, B3Form::kSingle};
  if (dash == std::string_view::npos) return incoming;
  value.remove_prefix(dash + 1);
  dash = value.find('-');
  auto sampling = parse_b3_sampling(value.substr(0, dash));
  if (!sampling) return std::nullopt;
  incoming.sampling = *sampling;
  // The parent id is the caller's own parent: nothing this hop needs, but
  // it must be well formed.
  if (dash != std::string_view::npos && !parse_span_id(value.substr(dash + 1))) {
    return std::nullopt;
  }
  return incoming;
}

std::optional<Incoming> parse_b3_multi(const B3Fields& fields) {
  Incoming incoming;
  incoming.b3 = B3Form::kMulti;
  if (fields.trace_id.has_value() != fields.span_id.has_value()) return std::nullopt;
  if (fields.trace_id) {
    auto trace = parse_trace_id(*fields.trace_id);
    auto span = parse_span_id(*fields.span_id);
    if (!trace || !span) return std::nullopt;
    incoming.trace = *trace;
    incoming.span = *span;
  }
  if (fields.flags == "1") {
    incoming.sampling = Sampling::kSampled;
  } else if (fields.sampled) {
    auto sampled = *fields.sampled;
    if (sampled == "1" || sampled == "true") {
      incoming.sampling = Sampling::kSampled;
    } else if (sampled == "0" || sampled == "false") {
      incoming.sampling = Sampling::kNotSampled;
    } else {
      return std::nullopt;
    }
  }
  if (!incoming.trace.valid() && incoming.sampling == Sampling::kDeferred) return std::nullopt;
  return incoming;
}

std::string to_hex(const TraceId& trace) {
  std::string out(32, '0');
  write_hex(out.data(), trace.high);
  write_hex(out.data() + 16, trace.low);
  return out;
}

std::string to_hex(SpanId span) {
  std::string out(16, '0');
  write_hex(out.data(), span);
  return out;
}

TraceparentText traceparent(const TraceId& trace, SpanId span, bool sampled) {
  TraceparentText out;
  char* text = out.text.data();
  text[0] = '0';
  text[1] = '0';
  text[2] = '-';
  char* flags = write_ids(text + 3, trace, span);
  flags[0] = '-';
  flags[1] = '0';
  flags[2] = sampled ? '1' : '0';
  return out;
}

std::string b3(const TraceId& trace, SpanId span, bool sampled) {
  std::string out(51, '-');
  write_ids(out.data(), trace, span);
  out[50] = sampled ? '1' : '0';
  return out;
}

}  // namespace weft::proxy::tracing
