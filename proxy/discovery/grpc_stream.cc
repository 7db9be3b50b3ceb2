#include "proxy/discovery/grpc_stream.h"

#include <algorithm>
#include <vector>

namespace weft::proxy::discovery {

GrpcStream::GrpcStream(std::size_t max_message_bytes, std::function<void(std::string)> on_message)
    : reader_(max_message_bytes), on_message_(std::move(on_message)) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &GrpcStream::on_data);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &GrpcStream::on_header);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &GrpcStream::on_close);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &GrpcStream::on_frame);
  nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
}

GrpcStream::~GrpcStream() { nghttp2_session_del(session_); }

Result<void> GrpcStream::open(std::string_view path, const std::string& authority,
                              const std::string& token, std::string_view scheme) {
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  auto nv = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  const std::string authorization = "Bearer " + token;
  std::vector headers{nv(":method", "POST"),
                      nv(":scheme", scheme),
                      nv(":path", path),
                      nv(":authority", authority),
                      nv("content-type", "application/grpc"),
                      nv("te", "trailers"),
                      nv("user-agent", "weft-mesh-proxy")};
  if (!token.empty()) headers.push_back(nv("authorization", authorization));
  nghttp2_data_provider body{};
  body.read_callback = &GrpcStream::read_body;
  stream_id_ =
      nghttp2_submit_request(session_, nullptr, headers.data(), headers.size(), &body, nullptr);
  if (stream_id_ < 0) {
    return fail(ErrorCode::kInternal, "nghttp2_submit_request: {}", nghttp2_strerror(stream_id_));
  }
  return {};
}

void GrpcStream::send(std::string_view message, bool last) {
  outgoing_ += http::grpc::frame_message(message);
  last_sent_ = last_sent_ || last;
  nghttp2_session_resume_data(session_, stream_id_);
}

Result<void> GrpcStream::receive(std::string_view bytes) {
  auto n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                    bytes.size());
  if (n < 0) {
    return fail(ErrorCode::kInvalidArgument, "HTTP/2: {}", nghttp2_strerror(static_cast<int>(n)));
  }
  if (!error_.empty()) return fail(ErrorCode::kInvalidArgument, "{}", error_);
  return {};
}

std::string GrpcStream::pending_output() {
  std::string out;
  const uint8_t* data = nullptr;
  for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return out;
}

std::string GrpcStream::end_reason() const {
  if (!grpc_status_.empty()) {
    return "grpc-status " + grpc_status_ + (grpc_message_.empty() ? "" : ": " + grpc_message_);
  }
  return "stream closed: " + std::string(nghttp2_http2_strerror(close_code_));
}

int GrpcStream::on_data(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t length,
                        void* user) {
  auto* self = static_cast<GrpcStream*>(user);
  self->reader_.append({reinterpret_cast<const char*>(data), length});
  while (self->error_.empty()) {
    auto message = self->reader_.next();
    if (!message) {
      self->error_ = message.error().message;
      break;
    }
    if (!*message) break;
    self->on_message_(std::move(**message));
  }
  return 0;
}

int GrpcStream::on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name,
                          size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                          void* user) {
  auto* self = static_cast<GrpcStream*>(user);
  std::string_view n(reinterpret_cast<const char*>(name), name_length);
  std::string_view v(reinterpret_cast<const char*>(value), value_length);
  if (n == "grpc-status") self->grpc_status_ = v;
  if (n == "grpc-message") self->grpc_message_ = v;
  return 0;
}

int GrpcStream::on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_GOAWAY) return 0;
  auto* self = static_cast<GrpcStream*>(user);
  const auto& goaway = frame->goaway;
  self->goaway_ = "GOAWAY " + std::string(nghttp2_http2_strerror(goaway.error_code));
  if (goaway.opaque_data_len > 0) {
    self->goaway_ += ": " + std::string(reinterpret_cast<const char*>(goaway.opaque_data),
                                        goaway.opaque_data_len);
  }
  return 0;
}

int GrpcStream::on_close(nghttp2_session*, int32_t, uint32_t code, void* user) {
  auto* self = static_cast<GrpcStream*>(user);
  self->closed_ = true;
  self->close_code_ = code;
  return 0;
}

ssize_t GrpcStream::read_body(nghttp2_session*, int32_t, uint8_t* buffer, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user) {
  auto* self = static_cast<GrpcStream*>(user);
  if (self->outgoing_.empty()) {
    if (!self->last_sent_) return NGHTTP2_ERR_DEFERRED;
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  auto n = std::min(length, self->outgoing_.size());
  std::copy_n(self->outgoing_.data(), n, buffer);
  self->outgoing_.erase(0, n);
  if (self->outgoing_.empty() && self->last_sent_) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace weft::proxy::discovery
