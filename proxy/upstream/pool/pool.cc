#include "proxy/upstream/pool/pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace weft::proxy::upstream::pool {

constexpr std::chrono::milliseconds kCheckAfterIdle{500};

Pool::Pool(std::size_t endpoints, std::size_t max_idle_per_endpoint,
           std::chrono::milliseconds idle_timeout, Discards discards)
    : max_idle_(max_idle_per_endpoint), idle_timeout_(idle_timeout), discards_(discards) {
  idle_.reserve(endpoints);
  for (std::size_t i = 0; i < endpoints; ++i) idle_.push_back(std::make_shared<std::deque<Idle>>());
}

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
  auto& idle = *idle_[endpoint];
  // Most recently used first: it is the least likely to have been closed.
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    auto verdict = check(entry, now);
    if (verdict == Verdict::kUsable) return std::move(entry.connection);
    count(verdict);
  }
  return std::nullopt;
}

void Pool::put(std::size_t endpoint, Connection connection, Clock::time_point now) {
  auto& idle = *idle_[endpoint];
  if (idle.size() >= max_idle_) {
    idle.pop_front();  // the oldest goes
    if (discards_.pool_full != nullptr) discards_.pool_full->Increment();
  }
  idle.push_back({std::move(connection), now});
  if (!waiters_.empty()) {
    waiters_.front()->cancel();
    waiters_.pop_front();  // woken once: it registers again if it waits on
  }
}

bool Pool::close_oldest() {
  std::deque<Idle>* oldest = nullptr;
  for (auto& idle : idle_) {
    if (!idle->empty() && (oldest == nullptr || idle->front().since < oldest->front().since)) {
      oldest = idle.get();
    }
  }
  if (oldest == nullptr) return false;
  oldest->pop_front();
  return true;
}

Pool::Waiting::Waiting(Pool& pool, boost::asio::steady_timer& timer) : pool_(pool), timer_(timer) {
  pool_.waiters_.push_back(&timer_);
}

Pool::Waiting::~Waiting() { std::erase(pool_.waiters_, &timer_); }

void Pool::sweep(Clock::time_point now) {
  for (auto& idle : idle_) {
    std::erase_if(*idle, [&](Idle& entry) {
      auto verdict = check(entry, now);
      if (verdict == Verdict::kUsable) return false;
      count(verdict);
      return true;
    });
  }
}

Pool::Verdict Pool::check(const Idle& entry, Clock::time_point now) const {
  if (now - entry.since > idle_timeout_) return Verdict::kIdleTimeout;
  // Checking costs a syscall; a connection idle this briefly is rarely
  // closed, and a bodyless request on one that was is retried.
  if (now - entry.since > kCheckAfterIdle && peer_closed_or_chatty(entry.connection.socket())) {
    return Verdict::kPeerClosed;
  }
  return Verdict::kUsable;
}

void Pool::count(Verdict verdict) const {
  auto* counter = verdict == Verdict::kIdleTimeout ? discards_.idle_timeout : discards_.peer_closed;
  if (counter != nullptr) counter->Increment();
}

bool peer_closed_or_chatty(boost::asio::ip::tcp::socket& socket) {
  char byte;
  auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: closed; >0: unsolicited bytes
}

}  // namespace weft::proxy::upstream::pool
