// Reading HTTP/1 messages and writing bytes on a connection's stream, as
// coroutines that await the socket directly.
//
// Beast's async_read_header/async_read_some are composed operations: each
// layer copies the type-erased executor and a work guard, and a read that
// the buffer already satisfies is completed by a post through the scheduler.
// These have Beast's semantics (the same parser calls, the same errors) at
// a fraction of the instructions. A write on a plain TCP socket is first
// tried as one non-blocking send, as nginx and HAProxy do: on loopback
// and on an uncongested link it completes at once, with no operation queued
// on the reactor and no trip through the scheduler; only the bytes the
// kernel did not take wait for the socket to become writable.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "proxy/http/http1/parser.h"
#include "proxy/net/receive.h"

namespace weft::proxy::http::http1 {

namespace stream_io_detail {

inline constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);
inline constexpr std::size_t kMaxReadSize = 65536;  // Beast's own bound per read

inline constexpr std::size_t kCoalesceBytes = 16384;

// Small scattered writes (a head and a body piece) are gathered into one
// buffer and sent with send(2): the kernel's per-segment iovec handling
// costs more than copying a few KiB here.
inline std::span<const char> coalesce(std::span<const boost::asio::const_buffer> buffers) {
  thread_local std::array<char, kCoalesceBytes> gathered;
  std::size_t size = 0;
  for (const auto& buffer : buffers) {
    if (buffer.size() > gathered.size() - size) return {};
    std::memcpy(gathered.data() + size, buffer.data(), buffer.size());
    size += buffer.size();
  }
  return {gathered.data(), size};
}

// send(2) without libc's cancellation-point bookkeeping (two calls around
// every send in a multi-threaded process): the proxy never cancels threads.
inline ssize_t send_bytes(int fd, const void* data, std::size_t size, int flags) {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

// One send that never blocks: the bytes the kernel took, 0 with `ec` set
// when it took none (would_block when the socket buffer is full).
inline std::size_t send_now(boost::asio::ip::tcp::socket& socket,
                            std::span<const boost::asio::const_buffer> buffers,
                            boost::system::error_code& ec) {
  constexpr int kFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
  ssize_t sent = 0;
  std::span<const char> gathered;
  if (buffers.size() == 1) {
    sent = send_bytes(socket.native_handle(), buffers[0].data(), buffers[0].size(), kFlags);
  } else if (gathered = coalesce(buffers); !gathered.empty()) {
    sent = send_bytes(socket.native_handle(), gathered.data(), gathered.size(), kFlags);
  } else {
    std::array<iovec, 16> iov{};
    const std::size_t count = std::min(buffers.size(), iov.size());
    for (std::size_t i = 0; i < count; ++i) {
      // sendmsg does not write through iov_base; the cast only drops const.
      iov[i].iov_base =
          const_cast<void*>(buffers[i].data());  // NOLINT(cppcoreguidelines-pro-type-const-cast)
      iov[i].iov_len = buffers[i].size();
    }
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    sent = ::sendmsg(socket.native_handle(), &message, kFlags);
  }
  if (sent < 0) {
    ec.assign(errno == EWOULDBLOCK ? EAGAIN : errno, boost::system::system_category());
    return 0;
  }
  return static_cast<std::size_t>(sent);
}

// `buffers` without their first `skip` bytes.
inline std::vector<boost::asio::const_buffer> drop_front(
    std::span<const boost::asio::const_buffer> buffers, std::size_t skip) {
  std::vector<boost::asio::const_buffer> rest;
  for (auto buffer : buffers) {
    if (skip >= buffer.size()) {
      skip -= buffer.size();
      continue;
    }
    rest.push_back(buffer + skip);
    skip = 0;
  }
  return rest;
}

}  // namespace stream_io_detail

// The bytes of `buffers` a plain TCP socket takes now without blocking (all
// of them, usually); 0 for other streams, which go through write_rest.
template <class Stream>
std::size_t write_now(Stream& stream, std::span<const boost::asio::const_buffer> buffers,
                      boost::system::error_code& ec) {
  if constexpr (std::is_same_v<Stream, boost::asio::ip::tcp::socket>) {
    const std::size_t sent = stream_io_detail::send_now(stream, buffers, ec);
    if (ec == boost::asio::error::would_block) ec = {};
    return sent;
  } else {
    return 0;
  }
}

// Writes what write_now left of `buffers` (its first `sent` bytes are gone).
template <class Stream>
boost::asio::awaitable<boost::system::error_code> write_rest(
    Stream& stream, std::span<const boost::asio::const_buffer> buffers, std::size_t sent) {
  auto rest = stream_io_detail::drop_front(buffers, sent);
  auto [ec, n] = co_await boost::asio::async_write(stream, rest, stream_io_detail::kNoThrow);
  co_return ec;
}

// Writes all of `buffers`; the error, if any. On the request path callers
// use write_now and write_rest themselves, so that the usual write costs no
// coroutine frame.
template <class Stream>
boost::asio::awaitable<boost::system::error_code> write_all(
    Stream& stream, std::span<const boost::asio::const_buffer> buffers) {
  boost::system::error_code ec;
  const std::size_t sent = write_now(stream, buffers, ec);
  if (!ec && sent != boost::asio::buffer_size(buffers)) {
    ec = co_await write_rest(stream, buffers, sent);
  }
  co_return ec;
}

template <class Stream>
boost::asio::awaitable<boost::system::error_code> write_all(Stream& stream,
                                                            boost::asio::const_buffer buffer) {
  co_return co_await write_all(stream, std::span<const boost::asio::const_buffer>(&buffer, 1));
}

// Feeds `parser` what `buffer` holds: need_more when it wants more bytes.
template <bool kIsRequest>
boost::system::error_code parse_buffered(boost::beast::flat_buffer& buffer,
                                         Parser<kIsRequest>& parser) {
  boost::system::error_code ec;
  if (buffer.size() == 0) return boost::beast::http::error::need_more;
  buffer.consume(parser.put(buffer.data(), ec));
  return ec;
}

// How far read() goes.
enum class ReadUntil {
  kPiece,   // the parser took something (Beast's http::async_read_some)
  kHeader,  // the head is complete (Beast's http::async_read_header)
};

// read()'s default: nothing to do when bytes arrive.
struct NoHook {
  void operator()() const {}
};

// Feeds `parser` from `buffer`, reading from `stream` whenever it needs
// more, until `until`. Ends early on a parse error (need_buffer: a body
// piece that does not follow on from the last, see Parser::piece) or at
// end of stream (end_of_stream before any byte of the message).
// `on_received()` runs after every read that brought bytes.
template <class Stream, bool kIsRequest, class OnReceived = NoHook>
boost::asio::awaitable<boost::system::error_code> read(Stream& stream,
                                                       boost::beast::flat_buffer& buffer,
                                                       Parser<kIsRequest>& parser, ReadUntil until,
                                                       OnReceived on_received = {}) {
  namespace beast_http = boost::beast::http;
  for (;;) {
    auto ec = parse_buffered(buffer, parser);
    if (ec != beast_http::error::need_more) {
      if (ec || until == ReadUntil::kPiece || parser.is_header_done()) co_return ec;
      continue;
    }
    const auto size = boost::beast::read_size(buffer, stream_io_detail::kMaxReadSize);
    if (size == 0) co_return beast_http::error::buffer_overflow;
    auto [read_ec, n] = co_await net::receive(stream, buffer.prepare(size));
    buffer.commit(n);
    if (n > 0) on_received();
    if (read_ec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return beast_http::error::end_of_stream;
      ec = {};
      parser.put_eof(ec);  // a message delimited by the close ends here
      co_return ec;
    }
    if (read_ec) co_return read_ec;
  }
}

// The two uses, as plain functions: no coroutine frame of their own.
template <class Stream, bool kIsRequest>
boost::asio::awaitable<boost::system::error_code> read_some(Stream& stream,
                                                            boost::beast::flat_buffer& buffer,
                                                            Parser<kIsRequest>& parser) {
  return read(stream, buffer, parser, ReadUntil::kPiece);
}

template <class Stream, bool kIsRequest, class OnReceived = NoHook>
boost::asio::awaitable<boost::system::error_code> read_header(Stream& stream,
                                                              boost::beast::flat_buffer& buffer,
                                                              Parser<kIsRequest>& parser,
                                                              OnReceived on_received = {}) {
  return read(stream, buffer, parser, ReadUntil::kHeader, on_received);
}

}  // namespace weft::proxy::http::http1
