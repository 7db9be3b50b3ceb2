#include "proxy/http/grpc_framing.h"

namespace weft::proxy::http::grpc {

std::string frame_message(std::string_view message) {
  std::string out;
  out.reserve(5 + message.size());
  auto n = static_cast<std::uint32_t>(message.size());
  out.push_back('\0');  // not compressed
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(message);
  return out;
}

Result<std::optional<std::string>> MessageReader::next() {
  if (buffer_.size() < 5) return std::nullopt;
  if (buffer_[0] != '\0') {
    return fail(ErrorCode::kInvalidArgument,
                "compressed gRPC message (compression not negotiated)");
  }
  std::size_t length = 0;
  for (int i = 1; i <= 4; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[i]);
  if (length > max_) {
    return fail(ErrorCode::kInvalidArgument, "gRPC message of {} bytes exceeds the {} byte limit",
                length, max_);
  }
  if (buffer_.size() < 5 + length) return std::nullopt;
  std::string message = buffer_.substr(5, length);
  buffer_.erase(0, 5 + length);
  return message;
}

}  // namespace weft::proxy::http::grpc
