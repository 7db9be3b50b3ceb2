#include "proxy/http/body_pipe.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace weft::proxy::http {

namespace asio = boost::asio;

Signal::Signal(const asio::any_io_executor& executor)
    : timer_(executor, asio::steady_timer::time_point::max()) {}

asio::awaitable<void> Signal::wait() {
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<bool> Signal::wait_until(std::chrono::steady_clock::time_point deadline) {
  timer_.expires_at(deadline);
  auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  timer_.expires_at(asio::steady_timer::time_point::max());
  co_return ec == asio::error::operation_aborted;
}

void Signal::notify() { timer_.cancel(); }

BodyPipe::BodyPipe(const asio::any_io_executor& executor, std::size_t capacity)
    : capacity_(capacity), readable_(executor), writable_(executor) {}

void BodyPipe::push(std::string_view bytes) {
  if (state_ != State::kOpen || bytes.empty()) return;
  if (consumer_closed_) {
    // Nobody reads: count it consumed at once so a windowed producer is
    // never stuck behind bytes that will not leave.
    if (on_consumed) on_consumed(bytes.size());
    return;
  }
  buffered_.append(bytes);
  pushed_ += bytes.size();
  if (keeping_ && pushed_ > replay_limit_) {
    stop_keeping();
    // Nobody reads a body kept for a consumer that is gone and now cannot
    // be replayed: drop it so the producer is never stuck behind it.
    if (consumer_gone_) close_consumer();
  }
  changed_for_consumer();
}

void BodyPipe::finish(FieldList trailers) {
  if (state_ != State::kOpen) return;
  state_ = State::kFinished;
  trailers_ = std::move(trailers);
  changed_for_consumer();
}

void BodyPipe::fail(std::uint32_t error_code) {
  if (state_ == State::kFailed) return;
  state_ = State::kFailed;
  error_code_ = error_code;
  changed_for_consumer();
  changed_for_producer();
}

void BodyPipe::close_consumer() {
  if (consumer_closed_) return;
  consumer_closed_ = true;
  keeping_ = false;
  // Everything pushed and not yet reported consumed, counting bytes kept
  // for replay and read again.
  auto dropped = pushed_ - credited_;
  credited_ = pushed_;
  buffered_.clear();
  read_offset_ = 0;
  if (dropped > 0 && on_consumed) on_consumed(dropped);
  changed_for_producer();
}

void BodyPipe::consumer_gone(bool unprocessed) {
  if (consumer_closed_) return;
  if ((unprocessed && consumed_ == 0) || keeping_) {
    consumer_gone_ = true;
    return;
  }
  close_consumer();
}

void BodyPipe::keep_for_replay(std::size_t limit) {
  if (consumed_ != 0 || pushed_ > limit || consumer_closed_) return;
  replay_limit_ = limit;
  keeping_ = true;
}

bool BodyPipe::rewind() {
  if (!replayable()) return false;
  read_offset_ = 0;
  consumed_ = 0;
  consumer_gone_ = false;
  if (available() > 0) changed_for_consumer();
  return true;
}

void BodyPipe::end_replay() {
  if (keeping_) stop_keeping();
  if (consumer_gone_) close_consumer();
}

void BodyPipe::stop_keeping() {
  keeping_ = false;
  buffered_.erase(0, read_offset_);
  read_offset_ = 0;
}

asio::awaitable<void> BodyPipe::wait_writable() {
  while (full() && !consumer_closed_ && state_ == State::kOpen) {
    co_await writable_.wait();
  }
}

std::size_t BodyPipe::read(char* out, std::size_t max) {
  auto n = std::min(max, available());
  if (n == 0) return 0;
  std::memcpy(out, buffered_.data() + read_offset_, n);
  read_offset_ += n;
  consumed_ += n;
  if (!keeping_ && read_offset_ == buffered_.size()) {
    buffered_.clear();
    read_offset_ = 0;
  }
  if (consumed_ > credited_) {
    const auto fresh = consumed_ - credited_;
    credited_ = consumed_;
    if (on_consumed) on_consumed(fresh);
  }
  changed_for_producer();
  return n;
}

asio::awaitable<void> BodyPipe::wait_readable() {
  while (available() == 0 && state_ == State::kOpen) {
    co_await readable_.wait();
  }
}

asio::awaitable<bool> BodyPipe::wait_readable_until(
    std::chrono::steady_clock::time_point deadline) {
  // GCC 12 miscompiles a co_await inside an if condition here (a crash on
  // resumption), so the result goes through a variable.
  bool in_time = true;
  while (available() == 0 && state_ == State::kOpen && in_time) {
    in_time = co_await readable_.wait_until(deadline);
  }
  co_return in_time;
}

void BodyPipe::changed_for_consumer() {
  readable_.notify();
  if (on_readable) on_readable();
}

void BodyPipe::changed_for_producer() {
  writable_.notify();
  if (on_writable) on_writable();
}

}  // namespace weft::proxy::http
