// A read on a plain TCP socket that tells Asio's reactor when it emptied
// the socket, so the next read waits for the socket to become readable
// instead of first trying a recv that cannot succeed.
//
// Asio starts every read on a socket its reactor has seen readable with a
// speculative recv, and it forgets readiness only at end of stream. For a
// proxy that is a failed recv (EAGAIN) twice per request: the read for the
// next request (the client has not sent it yet) and the read for the
// upstream's answer (the upstream has not answered yet); bench/syscalls.py
// counted 4 receives per request where nginx and HAProxy make 2; removing
// them cut CPU per request by 1 to 4% in runs that alternated builds
// (docs/benchmarks.md). Here each read is one
// recvmsg with TCP_INQ, which returns how many bytes are still queued (and
// a non-zero count when the peer's FIN is queued behind the data). When
// nothing is left, the operation reports done_and_exhausted: the reactor
// then queues the next read without trying it, and the edge-triggered
// epoll event for anything that arrives later makes the socket readable
// again (on the worker's one thread, after this read, so nothing is missed).
//
// End of stream is the opposite case: the reactor must keep trying, so a
// read that follows one that saw the FIN (the sniffer's, then the HTTP/1
// parser's) sees it again at once. Asio's own read forgets readiness there
// instead, and the next read would wait for an edge that never comes,
// leaving the socket in CLOSE-WAIT until an idle timeout.
//
// One case is noticed later than with Asio's own read: a reset (RST) that
// arrives together with the last bytes leaves no FIN to count, so a read
// that waits for more after those bytes ends at the connection's next write
// or its deadline, not at once.
//
// This reaches into Asio's reactor (boost::asio::detail), so it is written
// against Boost 1.81's epoll reactor and refuses to build with another
// version; other streams (TLS) use their own async_read_some.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/version.hpp>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

static_assert(BOOST_VERSION == 108100,
              "proxy/net/receive.h is written against Boost 1.81's epoll reactor; check "
              "reactor_op, epoll_reactor::start_op and the recv op it mirrors before changing "
              "Boost");

namespace weft::proxy::net {

namespace receive_detail {

namespace asio_detail = boost::asio::detail;

using Socket = boost::asio::ip::tcp::socket;

// The socket's reactor registration. basic_socket keeps its implementation
// protected; a pointer to member named through a derived class is the
// standard way to reach it.
struct ImplementationOf : Socket {
  static auto& of(Socket& socket) {
    return (socket.*(&ImplementationOf::impl_)).get_implementation();
  }
};

struct Received {
  ssize_t bytes;     // as recv(2) returns it
  bool queue_empty;  // nothing left to read, and no end of stream pending
};

// Asks for TCP_INQ on a socket that does not send it yet (its first read):
// recvmsg then reports the bytes still queued, and a non-zero count when
// the peer's FIN is queued, so "empty" never hides an end of stream. A
// kernel without it (before 4.18) is asked once per process.
inline void request_queue_hints(int fd) {
  static std::atomic<bool> unsupported{false};
  if (unsupported.load(std::memory_order_relaxed)) return;
  const int on = 1;
  if (::setsockopt(fd, SOL_TCP, TCP_INQ, &on, sizeof on) != 0 &&
      (errno == ENOPROTOOPT || errno == EINVAL)) {
    unsupported.store(true, std::memory_order_relaxed);
  }
}

// One non-blocking recvmsg; the raw syscall skips libc's cancellation
// bookkeeping (two atomics per call).
inline Received receive_with_hint(int fd, boost::asio::mutable_buffer buffer) {
  iovec vector{buffer.data(), buffer.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr message{};
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  const auto bytes = ::syscall(SYS_recvmsg, fd, &message, MSG_DONTWAIT);
  if (bytes <= 0) return {bytes, false};
  const cmsghdr* hint = CMSG_FIRSTHDR(&message);
  if (hint == nullptr || hint->cmsg_level != SOL_TCP || hint->cmsg_type != TCP_CM_INQ) {
    request_queue_hints(fd);
    return {bytes, false};  // no hint: readiness stays as Asio keeps it
  }
  int queued = 0;
  std::memcpy(&queued, CMSG_DATA(hint), sizeof queued);
  return {bytes, queued == 0};
}

// Asio's reactive_socket_recv_op with a different perform step.
template <class Handler, class IoExecutor>
class ReceiveOp : public asio_detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(ReceiveOp);

  ReceiveOp(int fd, boost::asio::mutable_buffer buffer, Handler& handler, const IoExecutor& io)
      : reactor_op(boost::system::error_code(), &ReceiveOp::perform, &ReceiveOp::complete),
        fd_(fd),
        buffer_(buffer),
        handler_(std::move(handler)),
        work_(handler_, io) {}

  // One non-blocking recvmsg. The kernel's TCP_INQ answer says whether the
  // socket is now empty: then the reactor forgets its readiness.
  static status perform(reactor_op* base) {
    auto* op = static_cast<ReceiveOp*>(base);
    if (op->buffer_.size() == 0) return done;  // recv would say 0: not end of stream
    for (;;) {
      const auto got = receive_with_hint(op->fd_, op->buffer_);
      if (got.bytes > 0) {
        op->bytes_transferred_ = static_cast<std::size_t>(got.bytes);
        return got.queue_empty ? done_and_exhausted : done;
      }
      if (got.bytes == 0) {
        op->ec_ = boost::asio::error::eof;
        return done;  // readiness kept: the FIN is there for every later read
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      op->ec_.assign(errno, boost::system::system_category());
      return done;
    }
  }

  // As Asio's own operations complete: free the operation, then call the
  // handler through its work guard (owner is null when the io_context is
  // being destroyed: free only).
  static void complete(void* owner, asio_detail::operation* base,
                       const boost::system::error_code& /*unused*/, std::size_t /*unused*/) {
    auto* op = static_cast<ReceiveOp*>(base);
    ptr p = {std::addressof(op->handler_), op, op};
    asio_detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
    asio_detail::binder2<Handler, boost::system::error_code, std::size_t> bound(
        op->handler_, op->ec_, op->bytes_transferred_);
    p.h = std::addressof(bound.handler_);
    p.reset();
    if (owner != nullptr) {
      asio_detail::fenced_block fence(asio_detail::fenced_block::half);
      work.complete(bound, bound.handler_);
    }
  }

 private:
  int fd_;
  boost::asio::mutable_buffer buffer_;
  Handler handler_;
  asio_detail::handler_work<Handler, IoExecutor> work_;
};

// Per-operation cancellation (the awaitable operators' `||` cancels the
// loser this way), as Asio's own reads do it: by the operation's key.
class Cancellation {
 public:
  Cancellation(asio_detail::reactor& reactor, asio_detail::reactor::per_descriptor_data& data,
               int fd)
      : reactor_(&reactor), data_(&data), fd_(fd) {}

  void operator()(boost::asio::cancellation_type_t type) {
    using boost::asio::cancellation_type;
    if (!!(type &
           (cancellation_type::terminal | cancellation_type::partial | cancellation_type::total))) {
      reactor_->cancel_ops_by_key(fd_, *data_, asio_detail::reactor::read_op, this);
    }
  }

 private:
  asio_detail::reactor* reactor_;
  asio_detail::reactor::per_descriptor_data* data_;
  int fd_;
};

// The reactor of the io_context the current thread runs (see ThreadReactor).
inline thread_local asio_detail::reactor* thread_reactor = nullptr;

// The socket's reactor: the thread's own when the socket is on its context,
// else looked up in the context's service registry (a mutex and a typeid
// comparison: about 2% of a proxied HTTP/1.1 request when done per read).
inline asio_detail::reactor& reactor_of(Socket& socket) {
  auto& context = boost::asio::query(socket.get_executor(), boost::asio::execution::context);
  auto* reactor = thread_reactor;
  if (reactor != nullptr && &reactor->context() == &context) return *reactor;
  return boost::asio::use_service<asio_detail::reactor>(context);
}

struct Initiate {
  template <class Handler>
  void operator()(Handler&& handler, Socket* socket, boost::asio::mutable_buffer buffer) const {
    using Op = ReceiveOp<std::decay_t<Handler>, Socket::executor_type>;
    auto& implementation = ImplementationOf::of(*socket);
    auto& reactor = reactor_of(*socket);
    const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
    p.p = new (p.v) Op(implementation.socket_, buffer, handler, socket->get_executor());
    if (slot.is_connected()) {
      p.p->cancellation_key_ = &slot.template emplace<Cancellation>(
          reactor, implementation.reactor_data_, implementation.socket_);
    }
    reactor.start_op(asio_detail::reactor::read_op, implementation.socket_,
                     implementation.reactor_data_, p.p, is_continuation,
                     /*allow_speculative=*/true);
    p.v = p.p = nullptr;
  }
};

}  // namespace receive_detail

// Names `io`'s reactor as the current thread's while it lives: made by a
// thread that runs `io` (a worker), around its run(); `io` outlives it.
class ThreadReactor {
 public:
  explicit ThreadReactor(boost::asio::io_context& io) {
    receive_detail::thread_reactor =
        &boost::asio::use_service<receive_detail::asio_detail::reactor>(io);
  }
  ~ThreadReactor() { receive_detail::thread_reactor = nullptr; }
  ThreadReactor(const ThreadReactor&) = delete;
  ThreadReactor& operator=(const ThreadReactor&) = delete;
};

// Reads what is there into `buffer`, or waits for it: (error,
// bytes) as `as_tuple(use_awaitable)` gives; eof at end of stream. Only
// for sockets on a worker's io_context: cancel() and close() end it with
// operation_aborted like any read.
inline boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> receive(
    receive_detail::Socket& socket, boost::asio::mutable_buffer buffer) {
  auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
  return boost::asio::async_initiate<decltype(token), void(boost::system::error_code, std::size_t)>(
      receive_detail::Initiate{}, token, &socket, buffer);
}

// The same for any stream: TLS streams read through their own layers.
template <class Stream>
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> receive(
    Stream& stream, boost::asio::mutable_buffer buffer) {
  return stream.async_read_some(buffer, boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace weft::proxy::net
