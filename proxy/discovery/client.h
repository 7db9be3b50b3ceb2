// mesh-proxy's configuration stream to the control plane: a gRPC
// bidirectional stream (mesh.v1.Discovery/StreamConfig) spoken over
// nghttp2 on the main thread's io_context. The proxy does not link gRPC's
// C++ library: it would bring its own shared protobuf and several MiB of
// resident code for one stream (docs/benchmarks.md "Memory").
//
// The stream reconnects forever with jittered exponential backoff; while
// the control plane is away the proxy keeps serving its last configuration.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <random>
#include <string>

#include "mesh/v1/discovery.pb.h"
#include "proxy/discovery/applier.h"
#include "proxy/metrics/metrics.h"

namespace weft::proxy::discovery {

struct ClientOptions {
  std::string host;  // control plane address (IP literal or name)
  std::string port;
  mesh::v1::Node node;
  // The bearer token for the control plane, read before every stream;
  // `token_optional`: a missing file means no token (the default path outside a Pod).
  std::string token_file;
  bool token_optional = false;
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30'000};
  // No frame for this long: PING; twice in a row: reconnect. Catches a
  // control plane that vanished without closing the connection. Not below
  // the interval the control plane permits (cli::kMinControlplaneKeepaliveSeconds).
  std::chrono::milliseconds idle_ping{15'000};
  std::size_t max_message_bytes = std::size_t{64} << 20;
};

// The token in `path`, less trailing whitespace. Empty when `optional` and
// there is no such file; an error when it cannot be read, is empty, or is
// not fit for a header.
Result<std::string> read_token(const std::string& path, bool optional);

class Client {
 public:
  Client(boost::asio::io_context& io, ClientOptions options, Applier::Apply apply,
         metrics::Metrics& metrics);

  // Runs until the io_context stops.
  void start();

 private:
  boost::asio::awaitable<void> run();
  struct Ended {
    bool connected = false;  // got as far as a TCP connection
    // The metric label: one of metrics::kDiscoveryReconnectCauses.
    std::string_view cause;
    std::string reason;  // for the log
  };
  // One connection and stream; returns why it ended.
  boost::asio::awaitable<Ended> stream_once();
  std::chrono::milliseconds next_backoff(bool connected);

  boost::asio::io_context& io_;
  ClientOptions options_;
  Applier applier_;
  metrics::Metrics& metrics_;
  std::mt19937_64 random_{std::random_device{}()};
  std::chrono::milliseconds backoff_;
};

}  // namespace weft::proxy::discovery
