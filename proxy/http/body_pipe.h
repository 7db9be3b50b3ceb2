// A bounded body stream between the two sides of one proxied exchange, on
// one worker thread (no locks). The producer is a downstream or upstream
// connection: an HTTP/2 session pushes what its peer sent (bounded by the
// flow-control window it advertised) and an HTTP/1.1 relay pushes while the
// pipe is not full. The consumer takes bytes as its own peer can accept
// them. Consumption is reported back to the producer (on_consumed), which
// is how an HTTP/2 producer reopens its window: a slow reader on one side
// throttles the writer on the other instead of growing a buffer.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace weft::proxy::http {

// Wakes coroutines of one thread waiting for a change. notify() ends every
// wait in progress; a wait started after it waits for the next notify.
class Signal {
 public:
  explicit Signal(const boost::asio::any_io_executor& executor);
  boost::asio::awaitable<void> wait();
  // Waits for a notify or `deadline`: false when the deadline passed.
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline);
  void notify();

 private:
  boost::asio::steady_timer timer_;
};

class BodyPipe {
 public:
  enum class State { kOpen, kFinished, kFailed };

  BodyPipe(const boost::asio::any_io_executor& executor, std::size_t capacity);

  // Producer side.
  void push(std::string_view bytes);
  void finish(FieldList trailers = {});
  // The stream was reset or its connection lost: the consumer sees kFailed
  // and passes `error_code` on (an RFC 9113 code: CANCEL by default).
  void fail(std::uint32_t error_code = kCancel);
  static constexpr std::uint32_t kCancel = 8;
  bool full() const { return available() >= capacity_; }
  // Waits until the pipe has room or the consumer is gone.
  boost::asio::awaitable<void> wait_writable();
  void close_consumer();  // the consumer will read no more
  bool consumer_closed() const { return consumer_closed_; }

  // Consumer side: up to `max` bytes (fewer than asked only when that is
  // all there is).
  std::size_t read(char* out, std::size_t max);
  std::size_t available() const { return buffered_.size() - read_offset_; }
  // Bytes taken since the start (or the last rewind): zero means the body
  // can still be sent elsewhere (a retry after the upstream refused it).
  std::uint64_t consumed() const { return consumed_; }
  // Bytes the producer pushed since the start, whatever was consumed.
  std::uint64_t pushed() const { return pushed_; }
  // The consumer (an upstream stream) is gone. Its bytes are dropped unless
  // the body may still be sent again: `unprocessed` by its peer and
  // untouched, or kept for replay. Then the next consumer rewinds, or the
  // owner ends the replay.
  void consumer_gone(bool unprocessed);

  // Replay, for retries. While kept for replay, bytes read stay in the pipe
  // so that rewind() can serve them again to a new consumer; a body that
  // grows past `limit` stops being kept (the bytes are dropped as read).
  void keep_for_replay(std::size_t limit);
  // Whether the body can be sent again from its first byte.
  bool replayable() const { return !consumer_closed_ && (consumed_ == 0 || keeping_); }
  // Starts the body again for a new consumer; false when not replayable.
  bool rewind();
  // No more attempts will be made: stop keeping bytes, and drop them if the
  // consumer is already gone.
  void end_replay();
  State state() const { return state_; }
  std::uint32_t error_code() const { return error_code_; }
  // Finished and drained: nothing more will come.
  bool at_end() const { return state_ == State::kFinished && available() == 0; }
  const FieldList& trailers() const { return trailers_; }
  boost::asio::awaitable<void> wait_readable();
  // The same, giving up at `deadline`: false when it passed first.
  boost::asio::awaitable<bool> wait_readable_until(std::chrono::steady_clock::time_point deadline);

  // Hooks of a session-driven side; cleared when that side goes away.
  std::function<void(std::size_t)> on_consumed;  // bytes the consumer took
  std::function<void()> on_readable;             // data, end or failure arrived
  std::function<void()> on_writable;             // room freed or consumer gone

 private:
  void changed_for_consumer();
  void changed_for_producer();

  void stop_keeping();

  std::string buffered_;
  std::size_t read_offset_ = 0;
  std::uint64_t consumed_ = 0;
  // Bytes ever pushed, and the furthest read reported to on_consumed (a
  // rewind reads some twice; the producer hears of each byte once).
  std::uint64_t pushed_ = 0, credited_ = 0;
  std::size_t replay_limit_ = 0;
  bool keeping_ = false;        // read bytes are kept for a rewind
  bool consumer_gone_ = false;  // consumer_gone() kept the bytes for a next one
  std::size_t capacity_;
  State state_ = State::kOpen;
  std::uint32_t error_code_ = 0;
  FieldList trailers_;
  bool consumer_closed_ = false;
  Signal readable_, writable_;
};

// Whether a request's body can be sent again from its first byte: it has
// none (`body` is null), or it is untouched, or kept whole for replay.
inline bool replayable(const std::shared_ptr<BodyPipe>& body) {
  return !body || body->replayable();
}

}  // namespace weft::proxy::http
