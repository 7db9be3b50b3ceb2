#include "proxy/discovery/client.h"

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <vector>

#include "proxy/http/grpc_framing.h"

// GCC 12 mistakes Asio's coroutine-frame allocator (a matching sized
// operator new/delete pair in awaitable_frame_base) for a mismatch in
// stream_once's frame; the pairing is Asio's and correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace weft::proxy::discovery {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The HTTP/2 session of one stream: nghttp2 does the framing, this feeds it
// bytes and collects what it wants to send. No I/O here.
class H2Stream {
 public:
  H2Stream(std::size_t max_message_bytes, std::function<void(std::string)> on_message)
      : reader_(max_message_bytes), on_message_(std::move(on_message)) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &H2Stream::on_data);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &H2Stream::on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &H2Stream::on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &H2Stream::on_frame);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
  }
  ~H2Stream() { nghttp2_session_del(session_); }
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // `token`: sent as a bearer token when not empty.
  Result<void> open(const std::string& authority, const std::string& token) {
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    auto nv = [](std::string_view name, std::string_view value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const std::string authorization = "Bearer " + token;
    std::vector headers{nv(":method", "POST"),
                        nv(":scheme", "http"),
                        nv(":path", "/mesh.v1.Discovery/StreamConfig"),
                        nv(":authority", authority),
                        nv("content-type", "application/grpc"),
                        nv("te", "trailers"),
                        nv("user-agent", "weft-mesh-proxy")};
    if (!token.empty()) headers.push_back(nv("authorization", authorization));
    nghttp2_data_provider body{};
    body.read_callback = &H2Stream::read_body;
    stream_id_ =
        nghttp2_submit_request(session_, nullptr, headers.data(), headers.size(), &body, nullptr);
    if (stream_id_ < 0) {
      return fail(ErrorCode::kInternal, "nghttp2_submit_request: {}", nghttp2_strerror(stream_id_));
    }
    return {};
  }

  void send(std::string_view message) {
    outgoing_ += http::grpc::frame_message(message);
    nghttp2_session_resume_data(session_, stream_id_);
  }
  void ping() { nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr); }

  Result<void> receive(std::string_view bytes) {
    auto n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                      bytes.size());
    if (n < 0) {
      return fail(ErrorCode::kInvalidArgument, "HTTP/2: {}", nghttp2_strerror(static_cast<int>(n)));
    }
    if (!error_.empty()) return fail(ErrorCode::kInvalidArgument, "{}", error_);
    return {};
  }

  // Everything nghttp2 wants written now.
  std::string pending_output() {
    std::string out;
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    return out;
  }

  bool closed() const { return closed_; }
  // The control plane's GOAWAY (code and debug data, e.g. gRPC's
  // "too_many_pings"), if it sent one.
  const std::string& goaway() const { return goaway_; }
  // Why the stream ended, from grpc-status/grpc-message or the reset code.
  // The control plane refused the Pod this proxy named (UNAUTHENTICATED,
  // PERMISSION_DENIED).
  bool refused() const { return grpc_status_ == "16" || grpc_status_ == "7"; }
  std::string end_reason() const {
    if (!grpc_status_.empty()) {
      return "grpc-status " + grpc_status_ + (grpc_message_.empty() ? "" : ": " + grpc_message_);
    }
    return "stream closed: " + std::string(nghttp2_http2_strerror(close_code_));
  }

 private:
  static int on_data(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t length,
                     void* user) {
    auto* self = static_cast<H2Stream*>(user);
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

  static int on_header(nghttp2_session*, const nghttp2_frame*, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user) {
    auto* self = static_cast<H2Stream*>(user);
    std::string_view n(reinterpret_cast<const char*>(name), name_length);
    std::string_view v(reinterpret_cast<const char*>(value), value_length);
    if (n == "grpc-status") self->grpc_status_ = v;
    if (n == "grpc-message") self->grpc_message_ = v;
    return 0;
  }

  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_GOAWAY) return 0;
    auto* self = static_cast<H2Stream*>(user);
    const auto& goaway = frame->goaway;
    self->goaway_ = "GOAWAY " + std::string(nghttp2_http2_strerror(goaway.error_code));
    if (goaway.opaque_data_len > 0) {
      self->goaway_ += ": " + std::string(reinterpret_cast<const char*>(goaway.opaque_data),
                                          goaway.opaque_data_len);
    }
    return 0;
  }

  static int on_close(nghttp2_session*, int32_t, uint32_t code, void* user) {
    auto* self = static_cast<H2Stream*>(user);
    self->closed_ = true;
    self->close_code_ = code;
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buffer, size_t length, uint32_t*,
                           nghttp2_data_source*, void* user) {
    auto* self = static_cast<H2Stream*>(user);
    if (self->outgoing_.empty()) return NGHTTP2_ERR_DEFERRED;
    auto n = std::min(length, self->outgoing_.size());
    std::copy_n(self->outgoing_.data(), n, buffer);
    self->outgoing_.erase(0, n);
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  std::string outgoing_;
  http::grpc::MessageReader reader_;
  std::function<void(std::string)> on_message_;
  std::string error_;
  std::string grpc_status_, grpc_message_;
  std::string goaway_;
  bool closed_ = false;
  uint32_t close_code_ = 0;
};

}  // namespace

Result<std::string> read_token(const std::string& path, bool optional) {
  std::error_code ec;
  if (optional && !std::filesystem::exists(path, ec)) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open()) return fail(ErrorCode::kIo, "token file {}: cannot read it", path);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.pop_back();
  }
  if (token.empty()) return fail(ErrorCode::kInvalidArgument, "token file {} is empty", path);
  // A header value: visible ASCII only (a JWT, a hex bootstrap token).
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return fail(ErrorCode::kInvalidArgument,
                  "token file {}: a token is visible ASCII without spaces", path);
    }
  }
  return token;
}

Client::Client(asio::io_context& io, ClientOptions options, Applier::Apply apply,
               metrics::Metrics& metrics)
    : io_(io),
      options_(std::move(options)),
      applier_(std::move(apply)),
      metrics_(metrics),
      backoff_(options_.min_backoff) {}

void Client::start() { asio::co_spawn(io_, run(), asio::detached); }

std::chrono::milliseconds Client::next_backoff(bool connected) {
  // A stream that got as far as a connection starts the backoff afresh.
  if (connected) backoff_ = options_.min_backoff;
  auto base = backoff_;
  backoff_ = std::min(options_.max_backoff, backoff_ * 2);
  // Full jitter over [base/2, base]: a restarted control plane is not hit by
  // every proxy in the same millisecond.
  std::uniform_int_distribution<std::int64_t> jitter(base.count() / 2, base.count());
  return std::chrono::milliseconds(jitter(random_));
}

asio::awaitable<void> Client::run() {
  asio::steady_timer timer(io_);
  for (;;) {
    auto ended = co_await stream_once();
    metrics_.discovery_reconnect(ended.cause).Increment();
    auto wait = next_backoff(ended.connected);
    spdlog::warn("control plane {}:{}: {}; retrying in {} ms (serving version '{}')", options_.host,
                 options_.port, ended.reason, wait.count(), applier_.version());
    timer.expires_after(wait);
    co_await timer.async_wait(kNoThrow);
  }
}

asio::awaitable<Client::Ended> Client::stream_once() {
  // Read first: without its token the stream would only be refused.
  auto token = read_token(options_.token_file, options_.token_optional);
  if (!token) co_return Ended{false, "unauthenticated", token.error().message};
  tcp::resolver resolver(io_);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(options_.host, options_.port, kNoThrow);
  if (resolve_error) {
    metrics_.discovery("connect_failed").Increment();
    co_return Ended{false, "resolve_failed", "resolve: " + resolve_error.message()};
  }
  tcp::socket socket(io_);
  asio::steady_timer timer(io_);
  timer.expires_after(std::chrono::seconds(5));
  auto connected =
      co_await (asio::async_connect(socket, endpoints, kNoThrow) || timer.async_wait(kNoThrow));
  if (connected.index() == 1 || std::get<0>(std::get<0>(connected))) {
    metrics_.discovery("connect_failed").Increment();
    co_return Ended{false, "connect_failed",
                    connected.index() == 1
                        ? std::string("connect: timed out")
                        : "connect: " + std::get<0>(std::get<0>(connected)).message()};
  }
  socket.set_option(tcp::no_delay(true));
  metrics_.discovery("connected").Increment();

  std::deque<std::string> messages;
  H2Stream stream(options_.max_message_bytes,
                  [&messages](std::string message) { messages.push_back(std::move(message)); });
  if (auto opened = stream.open(options_.host + ":" + options_.port, *token); !opened) {
    co_return Ended{true, "protocol_error", opened.error().message};
  }
  applier_.new_stream();
  mesh::v1::DiscoveryRequest hello;
  *hello.mutable_node() = options_.node;
  stream.send(hello.SerializeAsString());
  spdlog::info("control plane {}:{}: stream open as {}/{}", options_.host, options_.port,
               options_.node.namespace_(), options_.node.name());

  std::array<char, std::size_t{16} * 1024> buffer{};
  int idle_rounds = 0;
  for (;;) {
    // Answer every whole response, then write whatever nghttp2 queued.
    while (!messages.empty()) {
      mesh::v1::DiscoveryResponse response;
      if (!response.ParseFromString(messages.front())) {
        co_return Ended{true, "protocol_error", "unparsable DiscoveryResponse"};
      }
      messages.pop_front();
      auto reply = applier_.handle(response);
      bool nack = reply.has_error();
      metrics_.discovery(nack ? "nack" : "ack").Increment();
      if (nack) {
        spdlog::error("configuration version {} rejected: {}", response.version(),
                      reply.error().message());
      }
      stream.send(reply.SerializeAsString());
    }
    auto output = stream.pending_output();
    if (!output.empty()) {
      auto [write_error, written] =
          co_await asio::async_write(socket, asio::buffer(output), kNoThrow);
      if (write_error) co_return Ended{true, "write_error", "write: " + write_error.message()};
    }
    if (stream.closed()) {
      if (!stream.goaway().empty()) co_return Ended{true, "goaway", stream.goaway()};
      if (stream.refused()) co_return Ended{true, "unauthenticated", stream.end_reason()};
      co_return Ended{true, "stream_closed", stream.end_reason()};
    }

    timer.expires_after(options_.idle_ping);
    auto read = co_await (socket.async_read_some(asio::buffer(buffer), kNoThrow) ||
                          timer.async_wait(kNoThrow));
    if (read.index() == 1) {
      if (++idle_rounds >= 2) co_return Ended{true, "ping_timeout", "no answer to PING"};
      stream.ping();
      continue;
    }
    idle_rounds = 0;
    auto [read_error, n] = std::get<0>(read);
    if (read_error) {
      // gRPC sends GOAWAY, then closes the connection.
      if (!stream.goaway().empty()) co_return Ended{true, "goaway", stream.goaway()};
      co_return Ended{true, "read_error", "read: " + read_error.message()};
    }
    if (auto received = stream.receive({buffer.data(), n}); !received) {
      co_return Ended{true, "protocol_error", received.error().message};
    }
  }
}

}  // namespace weft::proxy::discovery
