// One gRPC call to the control plane over an HTTP/2 connection of its own:
// nghttp2 does the framing, the caller moves the bytes (plain TCP for the
// configuration stream, TLS for Sign). No I/O here.
#pragma once

#include <nghttp2/nghttp2.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "proxy/http/grpc_framing.h"

namespace weft::proxy::discovery {

class GrpcStream {
 public:
  GrpcStream(std::size_t max_message_bytes, std::function<void(std::string)> on_message);
  ~GrpcStream();
  GrpcStream(const GrpcStream&) = delete;
  GrpcStream& operator=(const GrpcStream&) = delete;

  // Starts the call of `path` ("/mesh.v1.Discovery/StreamConfig") with
  // `token` as a bearer token when not empty; `scheme` is http or https.
  Result<void> open(std::string_view path, const std::string& authority, const std::string& token,
                    std::string_view scheme = "http");

  // Queues one request message; `last`: the request stream ends with it
  // (a unary call).
  void send(std::string_view message, bool last = false);
  void ping() { nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr); }

  Result<void> receive(std::string_view bytes);
  // Everything nghttp2 wants written now.
  std::string pending_output();

  bool closed() const { return closed_; }
  // The control plane's GOAWAY (code and debug data, e.g. gRPC's
  // "too_many_pings"), if it sent one.
  const std::string& goaway() const { return goaway_; }
  // The call's grpc-status ("0" for OK); empty when the stream ended without one.
  const std::string& grpc_status() const { return grpc_status_; }
  // The control plane refused the Pod this proxy named (UNAUTHENTICATED,
  // PERMISSION_DENIED).
  bool refused() const { return grpc_status_ == "16" || grpc_status_ == "7"; }
  // Why the stream ended, from grpc-status/grpc-message or the reset code.
  std::string end_reason() const;

 private:
  static int on_data(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t length,
                     void* user);
  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user);
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int on_close(nghttp2_session*, int32_t, uint32_t code, void* user);
  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buffer, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user);

  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  std::string outgoing_;
  bool last_sent_ = false;  // the request stream ends once outgoing_ drains
  http::grpc::MessageReader reader_;
  std::function<void(std::string)> on_message_;
  std::string error_;
  std::string grpc_status_, grpc_message_;
  std::string goaway_;
  bool closed_ = false;
  uint32_t close_code_ = 0;
};

}  // namespace weft::proxy::discovery
