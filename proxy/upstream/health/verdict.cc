#include "proxy/upstream/health/verdict.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <charconv>

#include "proxy/http/grpc_framing.h"

namespace weft::proxy::upstream::health {

bool advance(Streak& streak, bool passed, const Check& check) {
  if (passed) {
    streak.failures = 0;
    ++streak.passes;
    if (streak.failing && streak.passes >= check.healthy_threshold) {
      streak.failing = false;
      return true;
    }
    return false;
  }
  streak.passes = 0;
  ++streak.failures;
  if (!streak.failing && streak.failures >= check.unhealthy_threshold) {
    streak.failing = true;
    return true;
  }
  return false;
}

std::chrono::milliseconds next_probe(const Check& check, double jitter) {
  const auto spread = static_cast<double>(check.interval.count()) / 10 * jitter;
  return check.interval + std::chrono::milliseconds(static_cast<std::int64_t>(spread));
}

std::optional<unsigned> status_of(std::string_view status_line) {
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return std::nullopt;
  }
  unsigned status = 0;
  const auto* digits = status_line.data() + 9;
  auto [end, ec] = std::from_chars(digits, digits + 3, status);
  if (ec != std::errc() || end != digits + 3 || status < 100 || status > 599) return std::nullopt;
  if (status_line.size() > 12 && status_line[12] != ' ' && status_line[12] != '\r') {
    return std::nullopt;
  }
  return status;
}

namespace {

using google::protobuf::internal::WireFormatLite;

// grpc.health.v1: HealthCheckRequest.service and HealthCheckResponse.status
// are both field 1; SERVING is 1.
constexpr int kServiceField = 1;
constexpr int kStatusField = 1;
constexpr std::uint32_t kServing = 1;
// A HealthCheckResponse is a few bytes; anything larger is not one.
constexpr std::size_t kMaxAnswerBytes = 1'024;

// HealthCheckResponse.status, or none when `message` is not well formed.
// Unknown fields are skipped; the last status wins, as protobuf has it.
std::optional<std::uint32_t> serving_status(std::string_view message) {
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const std::uint8_t*>(message.data()), static_cast<int>(message.size()));
  std::uint32_t status = 0;  // absent: UNKNOWN
  while (const auto tag = input.ReadTag()) {
    if (tag == WireFormatLite::MakeTag(kStatusField, WireFormatLite::WIRETYPE_VARINT)) {
      if (!input.ReadVarint32(&status)) return std::nullopt;
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return std::nullopt;
    }
  }
  if (!input.ConsumedEntireMessage()) return std::nullopt;  // a zero tag inside
  return status;
}

}  // namespace

std::string grpc_check_request(std::string_view service) {
  std::string message;
  if (!service.empty()) {  // proto3: an empty string is not sent
    // The streams flush into `message` as they go out of scope.
    google::protobuf::io::StringOutputStream out(&message);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.WriteTag(
        WireFormatLite::MakeTag(kServiceField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    coded.WriteVarint32(static_cast<std::uint32_t>(service.size()));
    coded.WriteRaw(service.data(), static_cast<int>(service.size()));
  }
  return http::grpc::frame_message(message);
}

bool grpc_check_passed(std::optional<std::string_view> grpc_status, std::string_view body) {
  if (grpc_status != "0") return false;
  http::grpc::MessageReader reader(kMaxAnswerBytes);
  reader.append(body);
  auto message = reader.next();
  if (!message || !*message || reader.buffered() != 0) return false;  // not exactly one
  return serving_status(**message) == kServing;
}

}  // namespace weft::proxy::upstream::health
