// Bidirectional byte relay between two streams: WebSocket (and any other
// Upgrade) after a 101, and opaque TCP proxying. Half-close is passed on for
// plain TCP: when one side finishes sending, the other side's write half is
// shut down and the opposite direction keeps flowing. (A TLS side cannot
// half-close without ending its session; it is closed when both are done.)
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>

#include "proxy/net/receive.h"

namespace weft::proxy::listener {

struct TunnelBytes {
  std::uint64_t downstream_to_upstream = 0;
  std::uint64_t upstream_to_downstream = 0;
  bool downstream_ended = false;  // the downstream sent its FIN or reset
};

namespace tunnel_detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

inline asio::ip::tcp::socket& socket_of(asio::ip::tcp::socket& s) { return s; }
template <class Next>
asio::ip::tcp::socket& socket_of(boost::beast::ssl_stream<Next>& s) {
  return socket_of(boost::beast::get_lowest_layer(s));
}

inline void half_close(asio::ip::tcp::socket& s) {
  boost::system::error_code ignored;
  s.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}
template <class Next>
void half_close(boost::beast::ssl_stream<Next>&) {}

// Copies `from` to `to` until `from` ends. Its end of stream is passed on
// as a half-close; a reset (or any other read error) ends both directions
// at once, since nothing more can be said to a peer that is gone.
template <class From, class To>
asio::awaitable<void> copy(From& from, boost::beast::flat_buffer& pending, To& to,
                           std::uint64_t& bytes, Clock::time_point& last_activity, bool& ended) {
  if (pending.size() > 0) {
    auto [ec, n] = co_await asio::async_write(to, pending.data(), kNoThrow);
    if (ec) co_return;
    bytes += n;
    pending.consume(n);
  }
  char chunk[16 * 1024];
  for (;;) {
    auto [read_ec, n] = co_await net::receive(from, asio::buffer(chunk));
    if (read_ec == asio::error::operation_aborted) co_return;
    if (read_ec) {
      ended = true;
      if (read_ec != asio::error::eof && read_ec != asio::ssl::error::stream_truncated) {
        boost::system::error_code ignored;
        socket_of(from).close(ignored);
        socket_of(to).close(ignored);
        co_return;
      }
      break;
    }
    last_activity = Clock::now();
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(chunk, n), kNoThrow);
    if (write_ec) co_return;
    bytes += written;
  }
  half_close(to);
}

inline asio::awaitable<void> idle_watchdog(std::chrono::milliseconds idle_timeout,
                                           const Clock::time_point& last_activity) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    auto due = last_activity + idle_timeout;
    if (Clock::now() >= due) co_return;
    timer.expires_at(due);
    auto [ec] = co_await timer.async_wait(kNoThrow);
    if (ec) co_return;
  }
}

}  // namespace tunnel_detail

// Relays until both directions have ended, or nothing moved for
// `idle_timeout`, then closes both. Bytes already read into the `*_pending`
// buffers (read ahead by an HTTP parser or the sniffer) are sent first.
template <class Downstream, class Upstream>
boost::asio::awaitable<TunnelBytes> tunnel(Downstream& downstream,
                                           boost::beast::flat_buffer& downstream_pending,
                                           Upstream& upstream,
                                           boost::beast::flat_buffer& upstream_pending,
                                           std::chrono::milliseconds idle_timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  using namespace tunnel_detail;
  TunnelBytes bytes;
  auto last_activity = Clock::now();
  bool upstream_ended = false;
  co_await ((copy(downstream, downstream_pending, upstream, bytes.downstream_to_upstream,
                  last_activity, bytes.downstream_ended) &&
             copy(upstream, upstream_pending, downstream, bytes.upstream_to_downstream,
                  last_activity, upstream_ended)) ||
            idle_watchdog(idle_timeout, last_activity));
  boost::system::error_code ignored;
  socket_of(downstream).close(ignored);
  socket_of(upstream).close(ignored);
  co_return bytes;
}

}  // namespace weft::proxy::listener
