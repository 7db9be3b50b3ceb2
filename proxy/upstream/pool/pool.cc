#include "proxy/upstream/pool/pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace weft::proxy::upstream::pool {

constexpr std::chrono::milliseconds kCheckAfterIdle{500};

Pool::Pool(std::size_t endpoints, std::size_t max_idle_per_endpoint,
           std::chrono::milliseconds idle_timeout)
    : idle_(endpoints), max_idle_(max_idle_per_endpoint), idle_timeout_(idle_timeout) {}

Socket* Connection::plain() const {
  const auto* p = std::get_if<std::unique_ptr<Socket>>(&stream_);
  return p == nullptr ? nullptr : p->get();
}

TlsStream* Connection::tls() const {
  const auto* p = std::get_if<std::unique_ptr<TlsStream>>(&stream_);
  return p == nullptr ? nullptr : p->get();
}

Socket& Connection::socket() const {
  if (auto* p = plain()) return *p;
  return boost::beast::get_lowest_layer(*tls());
}

std::optional<Connection> Pool::take(std::size_t endpoint, Clock::time_point now) {
  auto& idle = idle_[endpoint];
  // Most recently used first: it is the least likely to have been closed.
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    if (now - entry.since > idle_timeout_) continue;
    // Checking costs a syscall per request; a connection idle this briefly
    // is rarely closed, and a bodyless request on one that was is retried.
    if (now - entry.since > kCheckAfterIdle && peer_closed_or_chatty(entry.connection.socket())) {
      continue;
    }
    return std::move(entry.connection);
  }
  return std::nullopt;
}

void Pool::put(std::size_t endpoint, Connection connection, Clock::time_point now) {
  auto& idle = idle_[endpoint];
  if (idle.size() >= max_idle_) idle.pop_front();  // the oldest goes
  idle.push_back({std::move(connection), now});
}

bool peer_closed_or_chatty(boost::asio::ip::tcp::socket& socket) {
  char byte;
  auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: closed; >0: unsolicited bytes
}

}  // namespace weft::proxy::upstream::pool
