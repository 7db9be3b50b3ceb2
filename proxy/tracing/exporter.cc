#include "proxy/tracing/exporter.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "proxy/tracing/encode.h"

namespace weft::proxy::tracing {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// A collector's answer is read only for its status; its body is small.
constexpr std::uint64_t kMaxAnswerBytes = std::uint64_t{64} * 1024;

Reporter reporter_of(const config::Snapshot& snapshot) {
  if (!snapshot.workload) return {"mesh-proxy", ""};
  const auto& workload = *snapshot.workload;
  return {workload.app + "." + workload.ns, workload.name + "." + workload.ns};
}

// POSTs `body` as JSON; an error names what failed. A new connection per
// batch: at most one a second, and a collector restarted or moved behind
// its Service is found again without stale-connection handling.
asio::awaitable<Result<void>> post(const HttpUrl& url, std::string body) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  auto [resolve_ec, results] =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), kNoThrow);
  if (resolve_ec) co_return fail(ErrorCode::kIo, "cannot resolve: {}", resolve_ec.message());
  beast::tcp_stream stream(executor);
  stream.expires_after(Exporter::kTimeout);
  auto [connect_ec, connected] = co_await stream.async_connect(results, kNoThrow);
  if (connect_ec) co_return fail(ErrorCode::kIo, "cannot connect: {}", connect_ec.message());
  beast_http::request<beast_http::string_body> request(beast_http::verb::post, url.target, 11);
  request.set(beast_http::field::host, url.authority());
  request.set(beast_http::field::content_type, "application/json");
  request.set(beast_http::field::user_agent, "mesh-proxy");
  request.keep_alive(false);
  request.body() = std::move(body);
  request.prepare_payload();
  auto [write_ec, written] = co_await beast_http::async_write(stream, request, kNoThrow);
  if (write_ec) co_return fail(ErrorCode::kIo, "sending: {}", write_ec.message());
  beast::flat_buffer buffer;
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  auto [read_ec, read] = co_await beast_http::async_read(stream, buffer, parser, kNoThrow);
  if (read_ec) co_return fail(ErrorCode::kIo, "reading the answer: {}", read_ec.message());
  const auto status = parser.get().result_int();
  if (status < 200 || status > 299) {
    co_return fail(ErrorCode::kIo, "the collector answered {}: {}", status,
                   parser.get().body().substr(0, 200));
  }
  co_return Result<void>{};
}

}  // namespace

Exporter::Exporter(asio::io_context& io, metrics::Metrics& metrics, Collect collect)
    : io_(io), metrics_(metrics), collect_(std::move(collect)) {}

void Exporter::apply(const config::Snapshot& snapshot) {
  if (!snapshot.tracing) {
    target_.reset();
    return;
  }
  target_ = Target{*snapshot.tracing, reporter_of(snapshot)};
}

void Exporter::start() { asio::co_spawn(io_, run(), asio::detached); }

asio::awaitable<void> Exporter::run() {
  for (;;) {
    timer_.expires_after(kInterval);
    auto [ec] = co_await timer_.async_wait(kNoThrow);
    if (ec) co_return;
    co_await export_now();
  }
}

asio::awaitable<void> Exporter::export_now() {
  if (!target_) co_return;
  // Kept for the whole export: a snapshot applied meanwhile takes effect
  // at the next.
  const Target target = *target_;
  auto taken = co_await collect_();
  std::vector<Span> spans;
  for (auto& worker : taken) {
    metrics_.trace_spans("dropped_buffer_full").Increment(static_cast<double>(worker.dropped));
    std::move(worker.spans.begin(), worker.spans.end(), std::back_inserter(spans));
  }
  for (std::size_t first = 0; first < spans.size(); first += kBatchSpans) {
    auto count = std::min(kBatchSpans, spans.size() - first);
    co_await export_batch(target, std::span<const Span>(spans).subspan(first, count));
  }
}

asio::awaitable<void> Exporter::export_batch(const Target& target, std::span<const Span> spans) {
  const bool otlp = target.tracing.format == config::Tracing::Format::kOtlp;
  auto body = otlp ? otlp_json(spans, target.reporter) : zipkin_json(spans, target.reporter);
  auto sent = co_await post(target.tracing.collector, std::move(body));
  metrics_.trace_export(sent.has_value()).Increment();
  const auto count = static_cast<double>(spans.size());
  if (sent) {
    metrics_.trace_spans("exported").Increment(count);
    co_return;
  }
  metrics_.trace_spans("dropped_export_failed").Increment(count);
  const auto now = std::chrono::steady_clock::now();
  if (last_warning_ == std::chrono::steady_clock::time_point{} ||
      now - last_warning_ >= std::chrono::minutes(1)) {
    last_warning_ = now;
    spdlog::warn(
        "tracing: {} spans not exported to {}: {} (mesh_trace_spans_total counts the "
        "rest)",
        spans.size(), target.tracing.endpoint, sent.error().message);
  }
}

}  // namespace weft::proxy::tracing
