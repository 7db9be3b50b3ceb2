// gRPC's length-prefixed message framing (one flag byte, four bytes of
// big-endian length, the message), for the proxy's own gRPC calls: its
// discovery stream and gRPC health checks.
// Compression is never negotiated, so a compressed message is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace weft::proxy::http::grpc {

// Frames one serialized message.
std::string frame_message(std::string_view message);

// Accumulates DATA and yields whole messages.
class MessageReader {
 public:
  explicit MessageReader(std::size_t max_message_bytes) : max_(max_message_bytes) {}

  void append(std::string_view data) { buffer_.append(data); }
  // The next whole message, nullopt if more bytes are needed, or an error
  // (compressed, or longer than the limit) after which the stream is unusable.
  Result<std::optional<std::string>> next();
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::size_t max_;
  std::string buffer_;
};

}  // namespace weft::proxy::http::grpc
