#include "proxy/discovery/client.h"

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

#include "proxy/discovery/grpc_stream.h"

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
  GrpcStream stream(options_.max_message_bytes,
                    [&messages](std::string message) { messages.push_back(std::move(message)); });
  if (auto opened = stream.open("/mesh.v1.Discovery/StreamConfig",
                                options_.host + ":" + options_.port, *token);
      !opened) {
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
