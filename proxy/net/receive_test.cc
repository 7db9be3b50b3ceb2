#include "proxy/net/receive.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace weft::proxy::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A connected pair on loopback: `ours` is read with receive(), `peer`
// writes synchronously.
struct Pair {
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  tcp::socket ours{io}, peer{io};

  Pair() {
    tcp::acceptor acceptor(io, {asio::ip::make_address_v4("127.0.0.1"), 0});
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(ours);
  }

  // Runs `body` to completion (bounded: a lost wakeup fails, not hangs).
  void run(std::function<asio::awaitable<void>()> body) {
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await body();
          finished = true;
        },
        asio::detached);
    io.run_for(std::chrono::seconds(10));
    io.restart();
    ASSERT_TRUE(finished) << "receive never completed";
  }
};

TEST(Receive, AfterEmptyingTheSocketWaitsForTheNextBytes) {
  Pair pair;
  // Ping-pong: every read empties the socket, so every next read is queued
  // without a recv (strace shows one recvmsg per message) and must be woken
  // by the epoll edge of the peer's next write. A lost edge would stop the
  // loop.
  pair.run([&]() -> asio::awaitable<void> {
    std::string buffer(4096, '\0');
    for (int i = 0; i < 2000; ++i) {
      const std::string message = "message " + std::to_string(i);
      asio::post(pair.io, [&, message] { asio::write(pair.peer, asio::buffer(message)); });
      auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(buffer.substr(0, n), message);
      if (ec || buffer.substr(0, n) != message) co_return;
    }
  });
}

TEST(Receive, FullReadLeavesTheRestToTheNextRead) {
  Pair pair;
  asio::write(pair.peer, asio::buffer(std::string("abcdefgh")));
  pair.run([&]() -> asio::awaitable<void> {
    std::string buffer(3, '\0');
    std::string got;
    while (got.size() < 8) {
      auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
      EXPECT_FALSE(ec);
      if (ec) co_return;
      got += buffer.substr(0, n);
    }
    EXPECT_EQ(got, "abcdefgh");
  });
}

TEST(Receive, CarriesMegabytesIntact) {
  Pair pair;
  std::string sent(8 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 131 % 251);
  std::string got;
  pair.run([&]() -> asio::awaitable<void> {
    asio::async_write(pair.peer, asio::buffer(sent), [&](auto, auto) { pair.peer.close(); });
    std::string buffer(65536, '\0');
    for (;;) {
      auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
      got.append(buffer, 0, n);
      if (ec) {
        EXPECT_EQ(ec, asio::error::eof);
        co_return;
      }
    }
  });
  EXPECT_TRUE(got == sent) << got.size() << " of " << sent.size() << " bytes";
}

TEST(Receive, EndOfStreamIsEof) {
  Pair pair;
  pair.peer.shutdown(tcp::socket::shutdown_send);
  pair.run([&]() -> asio::awaitable<void> {
    std::string buffer(16, '\0');
    auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
    EXPECT_EQ(ec, asio::error::eof);
    EXPECT_EQ(n, 0u);
  });
}

TEST(Receive, EndOfStreamQueuedBehindTheDataIsNotMissed) {
  // The data and the FIN are both queued before the first read: the read
  // that empties the data must not let the reactor forget the FIN (no new
  // epoll edge will come for it).
  for (int round = 0; round < 50; ++round) {
    Pair pair;
    asio::write(pair.peer, asio::buffer(std::string("last words")));
    pair.peer.shutdown(tcp::socket::shutdown_send);
    pair.run([&]() -> asio::awaitable<void> {
      std::string buffer(64, '\0');
      std::string got;
      for (;;) {
        auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
        got.append(buffer, 0, n);
        if (ec) {
          EXPECT_EQ(ec, asio::error::eof);
          break;
        }
      }
      EXPECT_EQ(got, "last words");
    });
  }
}

TEST(Receive, EveryReadAfterTheEndOfStreamSeesIt) {
  // A FIN with no data, met first by a read that waited for it (the epoll
  // edge) or by one that found it queued: every later read must end at once
  // with eof, not wait for an edge that will never come (the sniffer reads
  // first, then the HTTP/1 parser reads again).
  for (bool waits_for_the_fin : {true, false}) {
    Pair pair;
    if (!waits_for_the_fin) pair.peer.shutdown(tcp::socket::shutdown_send);
    pair.run([&]() -> asio::awaitable<void> {
      if (waits_for_the_fin) {
        asio::post(pair.io, [&] { pair.peer.shutdown(tcp::socket::shutdown_send); });
      }
      std::string buffer(16, '\0');
      for (int read = 0; read < 3; ++read) {
        auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
        EXPECT_EQ(ec, asio::error::eof) << "read " << read;
        EXPECT_EQ(n, 0u);
      }
    });
  }
}

TEST(Receive, TheFirstReadTurnsOnQueueHints) {
  Pair pair;
  asio::write(pair.peer, asio::buffer(std::string("x")));
  pair.run([&]() -> asio::awaitable<void> {
    std::string buffer(8, '\0');
    co_await receive(pair.ours, asio::buffer(buffer));
  });
  int on = 0;
  socklen_t size = sizeof on;
  ASSERT_EQ(::getsockopt(pair.ours.native_handle(), SOL_TCP, TCP_INQ, &on, &size), 0);
  EXPECT_EQ(on, 1);
}

TEST(Receive, EmptyBufferCompletesAtOnce) {
  Pair pair;
  pair.run([&]() -> asio::awaitable<void> {
    auto [ec, n] = co_await receive(pair.ours, asio::mutable_buffer());
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, 0u);
  });
}

TEST(Receive, CancelAndCloseAbortAWaitingRead) {
  for (const bool close : {false, true}) {
    Pair pair;
    pair.run([&]() -> asio::awaitable<void> {
      asio::post(pair.io, [&] {
        boost::system::error_code ignored;
        if (close) {
          pair.ours.close(ignored);
        } else {
          pair.ours.cancel(ignored);
        }
      });
      std::string buffer(16, '\0');
      auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
      EXPECT_EQ(ec, asio::error::operation_aborted) << (close ? "close" : "cancel");
      EXPECT_EQ(n, 0u);
    });
  }
}

TEST(Receive, TheLoserOfAnOrIsCancelled) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  Pair pair;
  pair.run([&]() -> asio::awaitable<void> {
    asio::steady_timer timer(pair.io, std::chrono::milliseconds(20));
    std::string buffer(16, '\0');
    auto winner = co_await (receive(pair.ours, asio::buffer(buffer)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    EXPECT_EQ(winner.index(), 1u);
    // The socket is still usable: the cancelled read took nothing.
    asio::write(pair.peer, asio::buffer(std::string("after")));
    auto [ec, n] = co_await receive(pair.ours, asio::buffer(buffer));
    EXPECT_FALSE(ec);
    EXPECT_EQ(buffer.substr(0, n), "after");
  });
}

TEST(Receive, AWaitingReadIsFreedWithItsIoContext) {
  // Under AddressSanitizer a leaked operation or handler fails this test.
  auto pair = std::make_unique<Pair>();
  asio::co_spawn(
      pair->io,
      [&]() -> asio::awaitable<void> {
        std::string buffer(16, '\0');
        co_await receive(pair->ours, asio::buffer(buffer));
        ADD_FAILURE() << "completed without data";
      },
      asio::detached);
  pair->io.run_for(std::chrono::milliseconds(50));
  pair.reset();
}

// Any other stream with async_read_some, here a socket behind a wrapper.
struct Wrapped {
  tcp::socket& socket;
  template <class Token>
  auto async_read_some(asio::mutable_buffer buffer, Token&& token) {
    return socket.async_read_some(buffer, std::forward<Token>(token));
  }
};

TEST(Receive, OtherStreamsUseTheirOwnRead) {
  Pair pair;
  asio::write(pair.peer, asio::buffer(std::string("hi")));
  pair.run([&]() -> asio::awaitable<void> {
    Wrapped wrapped{pair.ours};
    std::string buffer(16, '\0');
    auto [ec, n] = co_await receive(wrapped, asio::buffer(buffer));
    EXPECT_FALSE(ec);
    EXPECT_EQ(buffer.substr(0, n), "hi");
  });
}

}  // namespace
}  // namespace weft::proxy::net
