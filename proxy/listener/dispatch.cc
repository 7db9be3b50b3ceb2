#include "proxy/listener/dispatch.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include "proxy/http/http2/preface.h"
#include "proxy/listener/http1_connection.h"
#include "proxy/listener/http2_connection.h"
#include "proxy/listener/inbound_mtls.h"
#include "proxy/listener/original_dst.h"
#include "proxy/listener/sniff/sniff.h"
#include "proxy/listener/tcp_proxy.h"
#include "proxy/net/receive.h"
#include "proxy/tls/tls.h"

namespace weft::proxy::listener {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Reads until the first bytes decide the protocol, the sniff window is full,
// the peer ends the stream, or `timeout` passes (a server-speaks-first
// protocol: the client waits). Whatever was read stays in `read_ahead` for
// the chosen handler, which meets the end of stream again at its own first
// read (net::receive keeps it visible).
using Classifier = sniff::Protocol (*)(std::string_view);

struct Sniffed {
  sniff::Protocol protocol;
  bool timed_out = false;           // undecided when the timeout passed: relayed as opaque
  bool closed_before_data = false;  // the peer ended the stream without a byte
};

asio::awaitable<Sniffed> sniff_protocol(tcp::socket& socket, beast::flat_buffer& read_ahead,
                                        std::chrono::milliseconds timeout,
                                        Classifier classify = sniff::classify) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  for (;;) {
    auto seen = beast::buffers_to_string(read_ahead.data());
    auto protocol = classify(seen);
    if (protocol != sniff::Protocol::kNeedMore) co_return Sniffed{protocol};
    if (read_ahead.size() >= sniff::kMaxSniffBytes) co_return Sniffed{sniff::Protocol::kOpaque};
    auto space = read_ahead.prepare(sniff::kMaxSniffBytes - read_ahead.size());
    auto outcome = co_await (net::receive(socket, space) || timer.async_wait(kNoThrow));
    if (outcome.index() == 1) co_return Sniffed{sniff::Protocol::kOpaque, true};
    auto [ec, n] = std::get<0>(outcome);
    if (ec) {
      // Nothing to serve: close now, not at an idle timeout. After some
      // bytes, the handler sees the end (or the reset) itself.
      if (read_ahead.size() == 0) co_return Sniffed{sniff::Protocol::kOpaque, false, true};
      co_return Sniffed{sniff::Protocol::kOpaque};
    }
    read_ahead.commit(n);
  }
}

// Counts a connection that ended before any byte; true when it did (there
// is nothing to serve: the caller closes it).
bool ended_before_data(const Sniffed& sniffed, const metrics::ListenerStats& stats) {
  if (sniffed.closed_before_data) stats.closed_before_data->Increment();
  return sniffed.closed_before_data;
}

// Sniffs and counts the outcome. A timeout is counted apart from the other
// opaque outcomes: it cost the client `sniff_timeout` of latency, and a
// port that keeps timing out speaks first and belongs in `opaque_ports`.
// A connection ended before any byte is counted only as that.
asio::awaitable<Sniffed> sniff_and_count(tcp::socket& socket, beast::flat_buffer& read_ahead,
                                         const config::Listener& listener,
                                         const metrics::ListenerStats& stats) {
  auto sniffed = co_await sniff_protocol(socket, read_ahead, listener.sniff_timeout);
  if (ended_before_data(sniffed, stats)) co_return sniffed;
  stats.count_sniffed(sniff::name(sniffed.protocol));
  if (sniffed.timed_out) stats.sniff_timeouts->Increment();
  co_return sniffed;
}

constexpr std::chrono::seconds kTlsHandshakeTimeout{10};

// HTTP over a TLS connection whose handshake is done: HTTP/2 when ALPN
// chose h2, else HTTP/1.1. The handshake consumed every byte read so far.
asio::awaitable<void> serve_by_alpn(TlsDownstream stream, worker::WorkerState& state,
                                    std::size_t index, std::size_t route_table, InboundPeer peer) {
  beast::flat_buffer nothing_read;  // named: see local_reply.h
  const unsigned char* alpn = nullptr;
  unsigned alpn_length = 0;
  SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_length);
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) == "h2") {
    co_await serve_http2(std::move(stream), std::move(nothing_read), state, index, route_table,
                         std::move(peer));
  } else {
    co_await serve_http1(std::move(stream), std::move(nothing_read), state, index, route_table,
                         std::move(peer));
  }
}

asio::awaitable<void> serve_tls(tcp::socket socket, worker::WorkerState& state, std::size_t index,
                                const config::Listener& listener,
                                const metrics::ListenerStats& stats) {
  TlsDownstream stream(std::move(socket), *listener.tls);
  asio::steady_timer timer(stream.get_executor(), kTlsHandshakeTimeout);
  auto outcome = co_await (stream.async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                           timer.async_wait(kNoThrow));
  auto ec = outcome.index() == 1 ? make_error_code(beast::error::timeout)
                                 : std::get<0>(std::get<0>(outcome));
  if (ec) {
    // No ClientHello byte at all: a connect-and-close, not a failed handshake.
    if (BIO_number_read(SSL_get_rbio(stream.native_handle())) == 0 && ec != beast::error::timeout) {
      stats.closed_before_data->Increment();
    } else {
      stats.tls_handshake_failures->Increment();
    }
    spdlog::debug("listener {}: TLS handshake failed: {}", listener.name, ec.message());
    co_return;
  }
  InboundPeer none;  // a client's own TLS: no mesh identity (named: see local_reply.h)
  co_await serve_by_alpn(std::move(stream), state, index, *listener.route_table, std::move(none));
}

// Why a peer's mutual TLS handshake failed, for mesh_tls_handshakes_total.
std::string_view handshake_failure(SSL* ssl, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return "timeout";
  switch (SSL_get_verify_result(ssl)) {
    case X509_V_OK:
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "expired_certificate";
    default:
      return "untrusted_certificate";
  }
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
          SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    return "no_client_certificate";
  }
  return "failed";
}

// A peer sidecar's mutual TLS on an inbound HTTP listener (docs/tasks/mtls.md):
// the handshake with this workload's current certificate, over the bytes
// sniffing already read, then HTTP by ALPN. No certificate yet, or a peer
// without a valid one: the connection is closed and counted.
asio::awaitable<void> serve_mesh_tls(tcp::socket socket, beast::flat_buffer read_ahead,
                                     worker::WorkerState& state, std::size_t index,
                                     const config::Listener& listener, std::size_t route_table,
                                     std::uint16_t port) {
  auto credentials = state.credentials != nullptr ? state.credentials->load() : nullptr;
  if (!credentials) {
    state.metrics.tls_handshake("inbound", "no_identity").Increment();
    spdlog::debug("listener {}: mutual TLS before this workload has a certificate", listener.name);
    co_return;
  }
  TlsDownstream stream(std::move(socket), *credentials->server);
  asio::steady_timer timer(stream.get_executor(), kTlsHandshakeTimeout);
  auto outcome = co_await (
      stream.async_handshake(asio::ssl::stream_base::server, read_ahead.data(), kNoThrow) ||
      timer.async_wait(kNoThrow));
  auto ec = outcome.index() == 1 ? make_error_code(beast::error::timeout)
                                 : std::get<0>(std::get<0>(outcome));
  if (ec) {
    auto reason = handshake_failure(stream.native_handle(), ec);
    state.metrics.tls_handshake("inbound", reason).Increment();
    spdlog::debug("listener {}: mutual TLS handshake failed ({}): {}", listener.name, reason,
                  ec.message());
    co_return;
  }
  // The authority signs exactly one SPIFFE ID into a leaf; a chain that
  // verifies with anything else names no one the policies could match.
  auto names = tls::peer_uri_names(stream.native_handle());
  if (names.size() != 1 || !names[0].starts_with("spiffe://")) {
    state.metrics.tls_handshake("inbound", "bad_identity").Increment();
    spdlog::debug("listener {}: a peer certificate with {} URI names", listener.name, names.size());
    co_return;
  }
  state.metrics.tls_handshake("inbound", "ok").Increment();
  InboundPeer peer{std::move(names[0]), port, {}};
  peer.forwarded_client_cert = fmt::format("By={};URI={}", credentials->spiffe_id, peer.identity);
  co_await serve_by_alpn(std::move(stream), state, index, route_table, std::move(peer));
}

// A plaintext connection from a peer on an inbound listener: counted by
// its source address, so that the clients still sending plaintext can be
// found before a switch to STRICT; under STRICT, closed unanswered.
void count_plaintext(tcp::socket& socket, worker::WorkerState& state, bool refused) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  state.metrics
      .inbound_plaintext(refused ? "refused" : "accepted",
                         ec ? std::string("unknown") : unmapped(peer).address().to_string())
      .Increment();
}

// An HTTP connection after sniffing: HTTP/2 with prior knowledge or HTTP/1.
// `port`: the workload's port, on an inbound listener.
asio::awaitable<void> serve_http(tcp::socket socket, beast::flat_buffer read_ahead,
                                 sniff::Protocol protocol, worker::WorkerState& state,
                                 std::size_t index, std::size_t route_table,
                                 std::uint16_t port = 0) {
  InboundPeer peer{.port = port};
  if (protocol == sniff::Protocol::kHttp2) {
    co_await serve_http2(std::move(socket), std::move(read_ahead), state, index, route_table,
                         std::move(peer));
  } else {
    co_await serve_http1(std::move(socket), std::move(read_ahead), state, index, route_table,
                         std::move(peer));
  }
}

// A broken HTTP/2 preface (RFC 9113 §3.4): our preface and a GOAWAY
// (PROTOCOL_ERROR), so the client learns why, then a close that first
// drains what it still sends (at most kDrainLimit bytes for kDrainTime):
// closing on unread bytes would reset the connection and could discard the
// GOAWAY before the client reads it.
asio::awaitable<void> refuse_bad_preface(tcp::socket socket, worker::WorkerState& state) {
  constexpr std::size_t kDrainLimit = std::size_t{64} * 1024;
  constexpr auto kDrainTime = std::chrono::seconds(1);
  state.metrics.http2_connection_error("bad_preface").Increment();
  const auto reply = http::http2::bad_preface_reply();
  auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(reply), kNoThrow);
  if (write_error) co_return;
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  asio::steady_timer deadline(socket.get_executor(), kDrainTime);
  std::array<char, 4096> sink{};
  std::size_t drained = 0;
  auto drain = [&]() -> asio::awaitable<void> {
    while (drained < kDrainLimit) {
      auto [read_error, n] = co_await socket.async_read_some(asio::buffer(sink), kNoThrow);
      if (read_error) co_return;
      drained += n;
    }
  };
  co_await (drain() || deadline.async_wait(kNoThrow));
}

bool is_http(sniff::Protocol protocol) {
  return protocol == sniff::Protocol::kHttp1 || protocol == sniff::Protocol::kHttp2;
}

asio::awaitable<void> serve_explicit(tcp::socket socket, worker::WorkerState& state,
                                     std::size_t index, const config::Listener& listener,
                                     const metrics::ListenerStats& stats) {
  if (listener.protocol == config::ListenerProtocol::kHttp && listener.tls) {
    co_await serve_tls(std::move(socket), state, index, listener, stats);
    co_return;
  }
  beast::flat_buffer read_ahead;
  sniff::Protocol protocol;
  if (listener.protocol == config::ListenerProtocol::kAuto) {
    auto sniffed = co_await sniff_and_count(socket, read_ahead, listener, stats);
    if (sniffed.closed_before_data) co_return;
    protocol = sniffed.protocol;
  } else if (listener.protocol == config::ListenerProtocol::kHttp) {
    // Only the HTTP/2 preface is looked for: anything else is HTTP/1's to
    // accept or reject. A silent client is HTTP/1's idle timeout's business.
    // A sidecar's inbound listener also takes its peers' mutual TLS.
    const bool inbound = listener.direction == config::Direction::kInbound;
    const bool identity = state.credentials != nullptr;
    const bool tls_possible = inbound && looks_for_tls(listener.mtls, identity);
    auto sniffed =
        co_await sniff_protocol(socket, read_ahead, listener.idle_timeout,
                                tls_possible ? sniff::classify_inbound_http : sniff::classify_http);
    if (ended_before_data(sniffed, stats)) co_return;
    if (inbound) {
      auto action =
          inbound_action(listener.mtls, identity, sniffed.protocol == sniff::Protocol::kTls);
      if (action == InboundAction::kTerminateTls) {
        co_await serve_mesh_tls(std::move(socket), std::move(read_ahead), state, index, listener,
                                *listener.route_table, listener.application_port);
        co_return;
      }
      count_plaintext(socket, state, action == InboundAction::kRefusePlaintext);
      if (action == InboundAction::kRefusePlaintext) co_return;
    }
    if (sniffed.protocol == sniff::Protocol::kBadHttp2Preface) {
      co_await refuse_bad_preface(std::move(socket), state);
      co_return;
    }
    protocol = sniffed.protocol == sniff::Protocol::kHttp2 ? sniff::Protocol::kHttp2
                                                           : sniff::Protocol::kHttp1;
  } else {
    protocol = sniff::Protocol::kOpaque;
  }
  if (is_http(protocol)) {
    co_await serve_http(std::move(socket), std::move(read_ahead), protocol, state, index,
                        *listener.route_table, listener.application_port);
  } else {
    InboundPeer peer{.port = listener.application_port};  // named: see local_reply.h
    co_await serve_tcp(std::move(socket), std::move(read_ahead), state, index,
                       ClusterTarget{*listener.tcp_cluster}, std::move(peer));
  }
}

// The inbound capture listener under STRICT: a peer's mutual TLS to a port
// the workload serves HTTP on is terminated, anything else refused (opaque
// TCP over mutual TLS is not built yet). PERMISSIVE leaves TLS on the
// capture listener to the application: it may be its own.
asio::awaitable<void> serve_strict_capture(tcp::socket socket, worker::WorkerState& state,
                                           std::size_t index, const config::Listener& listener,
                                           const metrics::ListenerStats& stats,
                                           const config::Destination* destination) {
  beast::flat_buffer read_ahead;
  auto sniffed = co_await sniff_and_count(socket, read_ahead, listener, stats);
  if (sniffed.closed_before_data) co_return;
  if (sniffed.protocol == sniff::Protocol::kTls && destination != nullptr &&
      destination->route_table) {
    co_await serve_mesh_tls(std::move(socket), std::move(read_ahead), state, index, listener,
                            *destination->route_table, destination->port);
    co_return;
  }
  count_plaintext(socket, state, true);
}

}  // namespace

asio::awaitable<void> serve_connection(tcp::socket socket, worker::WorkerState& state,
                                       std::size_t index) {
  auto view = state.view;
  const auto& listener = view->snapshot->listeners[index];
  const auto& stats = view->listener_stats[index];
  if (listener.capture == config::Capture::kNone) {
    co_await serve_explicit(std::move(socket), state, index, listener, stats);
    co_return;
  }

  auto original = original_destination(socket);
  if (!original) {
    stats.capture_errors[0]->Increment();
    spdlog::debug("listener {}: {}", listener.name, original.error().message);
    co_return;
  }
  boost::system::error_code ec;
  if (*original == unmapped(socket.local_endpoint(ec))) {
    // Dialled directly (no redirect): passing it "through" would connect to
    // ourselves forever.
    stats.capture_errors[1]->Increment();
    co_return;
  }
  const auto* destination = listener.destination_for(*original);
  TcpTarget tcp_target = PassthroughTarget{*original};
  if (destination != nullptr && destination->tcp_cluster) {
    tcp_target = ClusterTarget{*destination->tcp_cluster};
  }
  beast::flat_buffer read_ahead;
  if (listener.direction == config::Direction::kInbound &&
      listener.mtls == config::MtlsMode::kStrict) {
    co_await serve_strict_capture(std::move(socket), state, index, listener, stats, destination);
    co_return;
  }
  bool may_be_http = destination != nullptr && destination->route_table &&
                     !listener.is_opaque_port(original->port());
  if (may_be_http) {
    auto sniffed = co_await sniff_and_count(socket, read_ahead, listener, stats);
    if (sniffed.closed_before_data) co_return;
    if (is_http(sniffed.protocol)) {
      co_await serve_http(std::move(socket), std::move(read_ahead), sniffed.protocol, state, index,
                          *destination->route_table, original->port());
      co_return;
    }
  }
  InboundPeer peer{.port = original->port()};  // named: see local_reply.h
  co_await serve_tcp(std::move(socket), std::move(read_ahead), state, index, tcp_target,
                     std::move(peer));
}

}  // namespace weft::proxy::listener
