// Reusable relay buffers for one worker. A body relay leases one for its
// duration: allocating a fresh 32 KiB buffer per message cost a malloc, a
// free and page faults on every request.
#pragma once

#include <memory>
#include <span>
#include <vector>

namespace weft::proxy::worker {

class BufferPool {
 public:
  static constexpr std::size_t kBufferBytes = std::size_t{32} * 1024;

  // Returns its buffer to the pool when destroyed.
  class Lease {
   public:
    Lease(BufferPool& pool, std::unique_ptr<char[]> buffer)
        : pool_(&pool), buffer_(std::move(buffer)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (buffer_) pool_->give_back(std::move(buffer_));
    }
    std::span<char> span() { return {buffer_.get(), kBufferBytes}; }

   private:
    BufferPool* pool_;
    std::unique_ptr<char[]> buffer_;
  };

  Lease lease() {
    if (free_.empty()) return Lease(*this, std::make_unique_for_overwrite<char[]>(kBufferBytes));
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(buffer));
  }

 private:
  // Idle buffers kept; beyond this a burst's buffers are freed.
  static constexpr std::size_t kMaxFree = 64;

  void give_back(std::unique_ptr<char[]> buffer) {
    if (free_.size() < kMaxFree) free_.push_back(std::move(buffer));
  }

  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace weft::proxy::worker
