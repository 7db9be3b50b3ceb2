// Idle keep-alive connections to one cluster's endpoints, owned by one
// worker (no locks). A connection is handed out at most once; connections
// that saw a framing error or an unfinished exchange are never put back.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace weft::proxy::upstream::pool {

using Clock = std::chrono::steady_clock;
using Socket = boost::asio::ip::tcp::socket;
using TlsStream = boost::beast::ssl_stream<Socket>;

// An upstream connection, plain TCP or TLS over TCP.
class Connection {
 public:
  explicit Connection(std::unique_ptr<Socket> plain) : stream_(std::move(plain)) {}
  explicit Connection(std::unique_ptr<TlsStream> tls) : stream_(std::move(tls)) {}

  // Null when the connection is the other kind.
  Socket* plain() const;
  TlsStream* tls() const;
  // The TCP socket under either kind.
  Socket& socket() const;

 private:
  std::variant<std::unique_ptr<Socket>, std::unique_ptr<TlsStream>> stream_;
};

class Pool {
 public:
  Pool(std::size_t endpoints, std::size_t max_idle_per_endpoint,
       std::chrono::milliseconds idle_timeout);

  // A pooled connection to `endpoint` that is still open and was idle for
  // less than the idle timeout; older or closed ones are dropped on the way.
  std::optional<Connection> take(std::size_t endpoint, Clock::time_point now);
  // Keeps `stream` for reuse unless the endpoint already has the maximum.
  void put(std::size_t endpoint, Connection connection, Clock::time_point now);

  std::size_t idle(std::size_t endpoint) const { return idle_[endpoint].size(); }

 private:
  struct Idle {
    Connection connection;
    Clock::time_point since;
  };
  std::vector<std::deque<Idle>> idle_;
  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
};

// True when the peer has closed `socket` or sent bytes nobody asked for;
// either way the connection cannot carry another request.
bool peer_closed_or_chatty(boost::asio::ip::tcp::socket& socket);

}  // namespace weft::proxy::upstream::pool
