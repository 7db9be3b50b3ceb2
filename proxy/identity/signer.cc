#include "proxy/identity/signer.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "mesh/v1/identity.pb.h"
#include "proxy/discovery/client.h"
#include "proxy/discovery/grpc_stream.h"

// GCC 12 mistakes Asio's coroutine-frame allocator for a mismatched
// new/delete pair (see discovery/client.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace weft::proxy::identity {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kSignMethod = "/mesh.v1.CertificateService/Sign";

Result<std::shared_ptr<ssl::context>> client_context(const SignerOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  context->load_verify_file(options.root_file, ec);
  if (ec)
    return fail(ErrorCode::kInvalidArgument, "--ca-root {}: {}", options.root_file, ec.message());
  context->set_verify_mode(ssl::verify_peer);
  context->set_verify_callback(ssl::host_name_verification(options.server_name));
  // gRPC serves HTTP/2 over TLS only to clients that offer h2.
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(context->native_handle(), kH2, sizeof kH2);
  return context;
}

// The call on a connected, handshaken stream.
asio::awaitable<Result<Signed>> call(ssl::stream<tcp::socket>& stream, const SignerOptions& options,
                                     const std::string& token, const std::string& csr_pem) {
  std::optional<std::string> answer;
  discovery::GrpcStream grpc(std::size_t{1} << 20,
                             [&answer](std::string message) { answer = std::move(message); });
  if (auto opened =
          grpc.open(kSignMethod, options.server_name + ":" + options.port, token, "https");
      !opened) {
    co_return tl::unexpected(opened.error());
  }
  mesh::v1::SignRequest request;
  request.set_csr_pem(csr_pem);
  request.set_pod(options.pod);
  request.set_namespace_(options.ns);
  if (options.ttl.count() > 0) request.mutable_ttl()->set_seconds(options.ttl.count());
  grpc.send(request.SerializeAsString(), /*last=*/true);
  std::array<char, 16384> buffer{};
  while (!grpc.closed()) {
    auto output = grpc.pending_output();
    if (!output.empty()) {
      auto [write_error, written] =
          co_await asio::async_write(stream, asio::buffer(output), kNoThrow);
      if (write_error) co_return fail(ErrorCode::kUnavailable, "write: {}", write_error.message());
    }
    auto [read_error, n] = co_await stream.async_read_some(asio::buffer(buffer), kNoThrow);
    if (read_error) {
      co_return fail(ErrorCode::kUnavailable, "read: {}",
                     grpc.goaway().empty() ? read_error.message() : grpc.goaway());
    }
    if (auto received = grpc.receive({buffer.data(), n}); !received) {
      co_return tl::unexpected(received.error());
    }
  }
  if (grpc.grpc_status() != "0" || !answer) {
    co_return fail(ErrorCode::kUnavailable, "the control plane refused: {}", grpc.end_reason());
  }
  mesh::v1::SignResponse response;
  if (!response.ParseFromString(*answer)) {
    co_return fail(ErrorCode::kInvalidArgument, "unparsable SignResponse");
  }
  co_return Signed{response.certificate_chain_pem(), response.trust_bundle_pem(),
                   response.spiffe_id()};
}

asio::awaitable<Result<Signed>> connect_and_call(asio::io_context& io, const SignerOptions& options,
                                                 const std::string& csr_pem) {
  auto token = discovery::read_token(options.token_file, options.token_optional);
  if (!token) co_return tl::unexpected(token.error());
  auto context = client_context(options);
  if (!context) co_return tl::unexpected(context.error());
  tcp::resolver resolver(io);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(options.host, options.port, kNoThrow);
  if (resolve_error) {
    co_return fail(ErrorCode::kUnavailable, "resolve {}: {}", options.host,
                   resolve_error.message());
  }
  ssl::stream<tcp::socket> stream(io, **context);
  auto [connect_error, endpoint] =
      co_await asio::async_connect(stream.next_layer(), endpoints, kNoThrow);
  if (connect_error) {
    co_return fail(ErrorCode::kUnavailable, "connect {}:{}: {}", options.host, options.port,
                   connect_error.message());
  }
  SSL_set_tlsext_host_name(stream.native_handle(), options.server_name.c_str());
  auto [handshake_error] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (handshake_error) {
    co_return fail(ErrorCode::kUnavailable,
                   "TLS handshake with {}:{} (expecting {} under --ca-root): {}", options.host,
                   options.port, options.server_name, handshake_error.message());
  }
  co_return co_await call(stream, options, *token, csr_pem);
}

}  // namespace

asio::awaitable<Result<Signed>> sign(asio::io_context& io, const SignerOptions& options,
                                     const std::string& csr_pem) {
  asio::steady_timer timer(io);
  timer.expires_after(options.timeout);
  auto done = co_await (connect_and_call(io, options, csr_pem) || timer.async_wait(kNoThrow));
  if (done.index() == 1) {
    co_return fail(ErrorCode::kTimeout, "no answer from {}:{} within {} s", options.host,
                   options.port, options.timeout.count());
  }
  co_return std::move(std::get<0>(done));
}

}  // namespace weft::proxy::identity
