// Sends the workers' spans to the collector MeshConfig names, once a
// second, off the request path: on the main thread, which takes each
// worker's buffer on that worker's thread. A batch the collector does not
// take (unreachable, slow past the timeout, not a 2xx) is dropped and
// counted, not retried: tracing is sampled, and a retry would hold memory
// for a collector that may stay down.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "proxy/config/snapshot.h"
#include "proxy/metrics/metrics.h"
#include "proxy/tracing/buffer.h"

namespace weft::proxy::tracing {

class Exporter {
 public:
  // Every worker's spans since the last call.
  using Collect = std::function<boost::asio::awaitable<std::vector<SpanBuffer::Taken>>()>;

  Exporter(boost::asio::io_context& io, metrics::Metrics& metrics, Collect collect);

  // Exports to `snapshot`'s collector from the next tick (none: spans
  // are neither recorded nor collected).
  void apply(const config::Snapshot& snapshot);
  // Starts the export loop; stop() ends it.
  void start();
  void stop() { timer_.cancel(); }
  // Exports what the workers hold now: the last spans of a proxy about
  // to exit (bounded by kTimeout per batch).
  boost::asio::awaitable<void> export_now();

  static constexpr std::chrono::seconds kInterval{1};
  static constexpr std::size_t kBatchSpans = 512;
  static constexpr std::chrono::seconds kTimeout{5};

 private:
  struct Target {
    config::Tracing tracing;
    Reporter reporter;
  };
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> export_batch(const Target& target, std::span<const Span> spans);

  boost::asio::io_context& io_;
  metrics::Metrics& metrics_;
  Collect collect_;
  std::optional<Target> target_;
  boost::asio::steady_timer timer_{io_};
  // The last failure logged: one warning a minute while the collector
  // stays down, the rest counted only.
  std::chrono::steady_clock::time_point last_warning_{};
};

}  // namespace weft::proxy::tracing
