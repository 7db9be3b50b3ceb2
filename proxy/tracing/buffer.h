// A worker's spans waiting for export. Touched only on the worker's thread:
// the exporter takes them by posting there (Worker::take_spans), so the
// request path records a span without a lock. Bounded: past kCapacity a
// span is dropped and counted, so a collector that is down or slow costs
// memory up to the cap and no more.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "proxy/tracing/span.h"

namespace weft::proxy::tracing {

class SpanBuffer {
 public:
  // About a second of spans at 4,000 sampled requests per second per
  // worker; a span is a few hundred bytes.
  static constexpr std::size_t kCapacity = 4096;

  void push(Span&& span) {
    if (spans_.size() >= kCapacity) {
      ++dropped_;
      return;
    }
    spans_.push_back(std::move(span));
  }

  struct Taken {
    std::vector<Span> spans;
    std::uint64_t dropped = 0;  // since the last take
  };
  Taken take() {
    Taken taken{std::move(spans_), dropped_};
    spans_ = {};
    dropped_ = 0;
    return taken;
  }

 private:
  std::vector<Span> spans_;
  std::uint64_t dropped_ = 0;
};

}  // namespace weft::proxy::tracing
