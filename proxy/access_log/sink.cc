#include "proxy/access_log/sink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::proxy::access_log {

Sink::Sink(metrics::Metrics& metrics)
    : metrics_(metrics),
      written_(metrics.access_log_lines("written")),
      dropped_full_(metrics.access_log_lines("dropped_queue_full")),
      dropped_failed_(metrics.access_log_lines("dropped_write_failed")),
      queued_gauge_(metrics.access_log_queued_bytes()),
      thread_([this] { run(); }) {}

Sink::~Sink() {
  stop();
  close_file();
}

void Sink::open(const std::string& path) {
  const std::lock_guard lock(mutex_);
  if (path == path_ && fd_ >= 0) return;
  open_locked(path);
}

void Sink::reopen() {
  const std::lock_guard lock(mutex_);
  if (path_.empty() || path_ == "/dev/stdout" || path_ == "/dev/stderr") return;
  const auto path = path_;
  open_locked(path);
  spdlog::info("access log {} reopened", path);
}

void Sink::open_locked(const std::string& path) {
  close_file();
  path_ = path;
  if (path == "/dev/stdout") {
    fd_ = STDOUT_FILENO;
  } else if (path == "/dev/stderr") {
    fd_ = STDERR_FILENO;
  } else {
    constexpr mode_t kMode = 0644;
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kMode);
    owns_fd_ = fd_ >= 0;
    if (fd_ < 0) {
      metrics_.access_log_open_failures().Increment();
      spdlog::error("access log {} cannot be opened: {}; its lines are dropped", path,
                    std::strerror(errno));
    }
  }
}

void Sink::close_file() {
  // A chunk may be being written to it: the writer closes it after.
  if (owns_fd_) {
    if (writing_) {
      retired_.push_back(fd_);
    } else {
      ::close(fd_);
    }
  }
  fd_ = -1;
  owns_fd_ = false;
}

bool Sink::submit(std::string&& chunk, std::uint64_t lines) {
  {
    const std::lock_guard lock(mutex_);
    if (queued_bytes_ + chunk.size() > kMaxQueuedBytes || stopping_) {
      dropped_full_.Increment(static_cast<double>(lines));
      return false;
    }
    queued_bytes_ += chunk.size();
    queued_gauge_.Set(static_cast<double>(queued_bytes_));
    queue_.push_back({std::move(chunk), lines});
  }
  wake_.notify_one();
  return true;
}

void Sink::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Sink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and all written
    auto chunk = std::move(queue_.front());
    queue_.pop_front();
    // Written without the lock, so workers keep submitting; a file open()
    // replaces meanwhile is closed after (retired_).
    const int fd = fd_;
    writing_ = true;
    lock.unlock();
    const bool ok = fd >= 0 && write_all(fd, chunk.bytes);
    (ok ? written_ : dropped_failed_).Increment(static_cast<double>(chunk.lines));
    lock.lock();
    writing_ = false;
    for (const int retired : retired_) ::close(retired);
    retired_.clear();
    queued_bytes_ -= chunk.bytes.size();
    queued_gauge_.Set(static_cast<double>(queued_bytes_));
  }
}

bool Sink::write_all(int fd, const std::string& chunk) {
  std::size_t done = 0;
  while (done < chunk.size()) {
    const auto n = ::write(fd, chunk.data() + done, chunk.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void LineBuffer::flush() {
  if (lines_ == 0) return;
  sink_->submit(std::move(chunk_), lines_);
  chunk_ = {};
  lines_ = 0;
}

}  // namespace weft::proxy::access_log
