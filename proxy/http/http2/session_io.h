// Drives a Session over a stream (TCP socket or TLS stream) on the
// connection's worker: one loop reads and feeds the session, one writes what
// it produces, coalescing frames into one write. No extra threads.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>

#include "proxy/http/body_pipe.h"
#include "proxy/http/http2/session.h"
#include "proxy/net/receive.h"

namespace weft::proxy::http::http2 {

class SessionIo {
 public:
  // Bytes gathered into one write at most.
  static constexpr std::size_t kMaxWriteBytes = std::size_t{64} * 1024;

  SessionIo(Session& session, const boost::asio::any_io_executor& executor)
      : session_(session), output_ready_(executor) {
    session_.on_output_pending = [this] { output_ready_.notify(); };
  }
  ~SessionIo() { session_.on_output_pending = nullptr; }

  // Runs until the peer closes, the session ends, or `stop` is called;
  // `initial` holds bytes already read (sniffing).
  template <class Stream>
  boost::asio::awaitable<void> run(Stream& stream, std::string_view initial = {}) {
    using namespace boost::asio::experimental::awaitable_operators;
    if (!initial.empty() && !session_.receive(initial)) stopped_ = true;
    if (!stopped_) co_await (read_loop(stream) || write_loop(stream));
    co_await flush(stream);  // a GOAWAY or RST queued by the last input
  }

  void stop() {
    stopped_ = true;
    output_ready_.notify();
  }
  void wake() { output_ready_.notify(); }

 private:
  static constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

  template <class Stream>
  boost::asio::awaitable<void> read_loop(Stream& stream) {
    std::array<char, std::size_t{16} * 1024> buffer;
    while (!stopped_ && session_.wants_read()) {
      auto [ec, n] = co_await net::receive(stream, boost::asio::buffer(buffer));
      if (ec) break;
      if (!session_.receive({buffer.data(), n})) break;
      output_ready_.notify();
    }
    stopped_ = true;
  }

  template <class Stream>
  boost::asio::awaitable<void> write_loop(Stream& stream) {
    for (;;) {
      gather();
      if (!pending_.empty()) {
        auto [ec, n] =
            co_await boost::asio::async_write(stream, boost::asio::buffer(pending_), kNoThrow);
        pending_.clear();
        if (ec) break;
        continue;
      }
      if (stopped_ || (!session_.wants_read() && !session_.wants_write())) break;
      co_await output_ready_.wait();
      // Let the handlers already queued on this worker (other streams'
      // reads, upstream responses) add their frames first: one write then
      // carries them all, instead of a write, a wakeup and a syscall each.
      co_await boost::asio::post(stream.get_executor(), boost::asio::use_awaitable);
    }
    stopped_ = true;
  }

  template <class Stream>
  boost::asio::awaitable<void> flush(Stream& stream) {
    using namespace boost::asio::experimental::awaitable_operators;
    gather();
    if (pending_.empty()) co_return;
    boost::asio::steady_timer timer(stream.get_executor(), std::chrono::seconds(1));
    co_await (boost::asio::async_write(stream, boost::asio::buffer(pending_), kNoThrow) ||
              timer.async_wait(kNoThrow));
    pending_.clear();
  }

  void gather() {
    while (pending_.size() < kMaxWriteBytes) {
      auto out = session_.output();
      if (out.empty()) break;
      pending_.append(out);
    }
  }

  Session& session_;
  Signal output_ready_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace weft::proxy::http::http2
