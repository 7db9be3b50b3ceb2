#include "proxy/http/grpc.h"

#include <array>
#include <charconv>

namespace weft::proxy::http::grpc {

namespace {
constexpr unsigned kDeadlineExceeded = 4;
constexpr unsigned kPermissionDenied = 7;
constexpr unsigned kResourceExhausted = 8;
constexpr unsigned kUnimplemented = 12;
constexpr unsigned kInternal = 13;
constexpr unsigned kUnavailable = 14;
constexpr unsigned kUnauthenticated = 16;
constexpr unsigned kUnknown = 2;
}  // namespace

bool is_grpc(std::string_view content_type) {
  if (!content_type.starts_with("application/grpc")) return false;
  auto rest = content_type.substr(16);
  return rest.empty() || rest.front() == '+' || rest.front() == ';';
}

std::optional<std::chrono::milliseconds> parse_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  auto digits = value.substr(0, value.size() - 1);
  std::uint64_t amount = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), amount);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto round_up = [](std::chrono::nanoseconds ns) {
    auto ms = duration_cast<milliseconds>(ns);
    return ms < ns ? ms + milliseconds(1) : ms;
  };
  switch (value.back()) {
    case 'H':
      return milliseconds(amount * 3'600'000);
    case 'M':
      return milliseconds(amount * 60'000);
    case 'S':
      return milliseconds(amount * 1'000);
    case 'm':
      return milliseconds(amount);
    case 'u':
      return round_up(std::chrono::microseconds(amount));
    case 'n':
      return round_up(std::chrono::nanoseconds(amount));
    default:
      return std::nullopt;
  }
}

unsigned status_for(unsigned http_status, std::string_view reason) {
  (void)reason;  // every timeout is a 504: DEADLINE_EXCEEDED
  switch (http_status) {
    case 400:
      return kInternal;
    case 401:
      return kUnauthenticated;
    case 403:
      return kPermissionDenied;
    case 404:
      return kUnimplemented;
    case 429:
      return kResourceExhausted;
    case 502:
    case 503:
      return kUnavailable;
    case 504:
      return kDeadlineExceeded;
    default:
      return kUnknown;
  }
}

unsigned judged_status(unsigned http_status, std::optional<std::string_view> grpc_status) {
  if (!grpc_status) return http_status;
  unsigned code = 0;
  const auto* end = grpc_status->data() + grpc_status->size();
  auto [last, ec] = std::from_chars(grpc_status->data(), end, code);
  if (ec != std::errc() || last != end) return http_status;
  // Indexed by gRPC code, OK to UNAUTHENTICATED; codes past it are UNKNOWN.
  static constexpr std::array<unsigned, 17> kHttp = {
      200,  // OK
      499,  // CANCELLED (the client closed the request)
      500,  // UNKNOWN
      400,  // INVALID_ARGUMENT
      504,  // DEADLINE_EXCEEDED
      404,  // NOT_FOUND
      409,  // ALREADY_EXISTS
      403,  // PERMISSION_DENIED
      429,  // RESOURCE_EXHAUSTED
      400,  // FAILED_PRECONDITION
      409,  // ABORTED
      400,  // OUT_OF_RANGE
      501,  // UNIMPLEMENTED
      500,  // INTERNAL
      503,  // UNAVAILABLE
      500,  // DATA_LOSS
      401,  // UNAUTHENTICATED
  };
  return code < kHttp.size() ? kHttp[code] : 500;
}

std::string_view status_name(unsigned code) {
  static constexpr std::array<std::string_view, 17> kNames = {"OK",
                                                              "CANCELLED",
                                                              "UNKNOWN",
                                                              "INVALID_ARGUMENT",
                                                              "DEADLINE_EXCEEDED",
                                                              "NOT_FOUND",
                                                              "ALREADY_EXISTS",
                                                              "PERMISSION_DENIED",
                                                              "RESOURCE_EXHAUSTED",
                                                              "FAILED_PRECONDITION",
                                                              "ABORTED",
                                                              "OUT_OF_RANGE",
                                                              "UNIMPLEMENTED",
                                                              "INTERNAL",
                                                              "UNAVAILABLE",
                                                              "DATA_LOSS",
                                                              "UNAUTHENTICATED"};
  return code < kNames.size() ? kNames[code] : "UNKNOWN";
}

}  // namespace weft::proxy::http::grpc
