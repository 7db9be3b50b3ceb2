#include "proxy/listener/tunnel.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace weft::proxy::listener {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunkBytes = 16 * 1024;
using Clock = std::chrono::steady_clock;

asio::awaitable<void> copy(tcp::socket& from, boost::beast::flat_buffer& pending, tcp::socket& to,
                           std::uint64_t& bytes, Clock::time_point& last_activity) {
  if (pending.size() > 0) {
    auto [ec, n] = co_await asio::async_write(to, pending.data(), kNoThrow);
    if (ec) co_return;
    bytes += n;
    pending.consume(n);
  }
  char chunk[kChunkBytes];
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(chunk), kNoThrow);
    if (read_ec) break;
    last_activity = Clock::now();
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(chunk, n), kNoThrow);
    if (write_ec) {
      boost::system::error_code ignored;
      from.shutdown(tcp::socket::shutdown_receive, ignored);
      co_return;
    }
    bytes += written;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);  // pass the half-close on
}

asio::awaitable<void> idle_watchdog(std::chrono::milliseconds idle_timeout,
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

}  // namespace

asio::awaitable<TunnelBytes> tunnel(tcp::socket& downstream,
                                    boost::beast::flat_buffer& downstream_pending,
                                    tcp::socket& upstream,
                                    boost::beast::flat_buffer& upstream_pending,
                                    std::chrono::milliseconds idle_timeout) {
  TunnelBytes bytes;
  auto last_activity = Clock::now();
  co_await ((copy(downstream, downstream_pending, upstream, bytes.downstream_to_upstream,
                  last_activity) &&
             copy(upstream, upstream_pending, downstream, bytes.upstream_to_downstream,
                  last_activity)) ||
            idle_watchdog(idle_timeout, last_activity));
  boost::system::error_code ignored;
  downstream.close(ignored);
  upstream.close(ignored);
  co_return bytes;
}

}  // namespace weft::proxy::listener
