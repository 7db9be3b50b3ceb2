// Access log lines, written off the request path. Each worker appends its
// lines to its own LineBuffer (no lock) and hands the buffer over to the
// Sink when it holds kChunkBytes, and at every sweep (50 ms), so a line
// waits at most that long. The Sink's writer thread writes the chunks to
// the file or stream MeshConfig names, in order per worker; a slow disk or
// a stdout nobody reads blocks that thread only. Bounded: past
// kMaxQueuedBytes waiting a chunk's lines are dropped and counted
// (mesh_access_log_lines_total{outcome="dropped_queue_full"}), so a
// stalled writer costs memory up to the cap and never a request's time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics/metrics.h"

namespace weft::proxy::access_log {

class Sink {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 8 << 20;

  explicit Sink(metrics::Metrics& metrics);
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Where lines go from now on: /dev/stdout, /dev/stderr or a file,
  // appended to (created 0644 when missing). Reopens only when `path`
  // changes. A file that cannot be opened is logged and counted, and its
  // lines dropped until a path opens.
  void open(const std::string& path);
  // Opens the file again by its path, after logrotate (or anything) moved
  // it away: lines go to a new file of that name. Nothing for stdout and
  // stderr. What mesh-proxy does on SIGUSR1.
  void reopen();

  // Any thread: queues `lines` lines in `chunk`. False (the lines dropped
  // and counted) when kMaxQueuedBytes are already waiting.
  bool submit(std::string&& chunk, std::uint64_t lines);

  // Writes what is queued, then ends the writer. Idempotent.
  void stop();

 private:
  struct Chunk {
    std::string bytes;
    std::uint64_t lines = 0;
  };
  void run();
  // Writes `chunk` whole to `fd` (retrying short writes); false on error.
  static bool write_all(int fd, const std::string& chunk);
  void close_file();
  void open_locked(const std::string& path);  // with mutex_ held

  metrics::Metrics& metrics_;
  prometheus::Counter& written_;
  prometheus::Counter& dropped_full_;
  prometheus::Counter& dropped_failed_;
  prometheus::Gauge& queued_gauge_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Chunk> queue_;
  std::size_t queued_bytes_ = 0;
  std::string path_;
  int fd_ = -1;           // -1: nowhere (lines dropped as write failures)
  bool owns_fd_ = false;  // a file opened here, not stdout or stderr
  bool stopping_ = false;
  bool writing_ = false;      // the writer is writing a chunk, without the lock
  std::vector<int> retired_;  // files replaced while a chunk was written to them
  std::thread thread_;
};

// One worker's lines until handed to the Sink. Touched only on its
// worker's thread.
class LineBuffer {
 public:
  static constexpr std::size_t kChunkBytes = 64 << 10;

  explicit LineBuffer(Sink* sink) : sink_(sink) {}

  // The buffer a line is appended to; then added().
  std::string& bytes() { return chunk_; }
  void added() {
    ++lines_;
    if (chunk_.size() >= kChunkBytes) flush();
  }
  // Hands what it holds to the Sink.
  void flush();
  bool has_sink() const { return sink_ != nullptr; }

 private:
  Sink* sink_;
  std::string chunk_;
  std::uint64_t lines_ = 0;
};

}  // namespace weft::proxy::access_log
