#include "proxy/listener/finish.h"

#include "proxy/layers/access_log.h"
#include "proxy/layers/observe.h"
#include "proxy/layers/trace.h"

namespace weft::proxy::listener {

void finish_request(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                    const layers::Record& record, const Ending& ending) {
  const auto now = std::chrono::steady_clock::now();
  const auto& stats = view.listener_stats[listener];
  stats.count_response(record.status);
  stats.requests_by_protocol[ending.http2 ? 1 : 0]->Increment();
  if (ending.grpc_status) {
    constexpr unsigned kUnknown = 2;
    auto code = *ending.grpc_status < stats.grpc_statuses.size() ? *ending.grpc_status : kUnknown;
    stats.grpc_statuses[code]->Increment();
  }
  const auto elapsed = std::chrono::duration<double>(now - record.start).count();
  stats.duration->Observe(elapsed);
  const auto direction = view.snapshot->listeners[listener].direction;
  layers::observe::count(state.requests, record,
                         {direction, view.workload, ending.grpc_status, ending.downstream_tls},
                         elapsed * 1000);
  if (record.trace.recorded()) {
    layers::trace::report(
        state.spans, record,
        {direction == config::Direction::kOutbound, direction == config::Direction::kInbound,
         ending.method, ending.target, ending.authority, ending.grpc_status, view.workload});
  }
  log_request(state, view, listener, record, ending, now);
}

namespace {

layers::access_log::Entry entry_of(const worker::View& view, std::size_t listener,
                                   const layers::Record& record, const Ending& ending,
                                   std::chrono::steady_clock::time_point now) {
  const auto& config = view.snapshot->listeners[listener];
  const bool outbound = config.direction == config::Direction::kOutbound;
  const auto elapsed = now - record.start;
  return {
      .start = std::chrono::system_clock::now() -
               std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed),
      .duration_ms = std::chrono::duration<double, std::milli>(elapsed).count(),
      .listener = config.name,
      .downstream = ending.downstream,
      .protocol = ending.tcp     ? "TCP"
                  : ending.http2 ? "HTTP/2"
                                 : "HTTP/1.1",
      .method = ending.method,
      .path = ending.target,
      .authority = ending.authority,
      .request_id = ending.request_id,
      .status = record.status,
      .error = record.error,
      .cluster = record.cluster,
      .service = record.service,
      .upstream = record.upstream,
      .attempts = record.attempts,
      .bytes_received = record.request_bytes,
      .bytes_sent = record.response_bytes,
      .source = outbound ? view.workload : record.source,
      .destination = outbound ? record.destination : view.workload,
      .grpc_status = ending.grpc_status,
      .reset = ending.reset,
      .trace = record.trace.trace,
      .peer_identity = ending.peer_identity,
      .authz_policy = record.authz_policy,
  };
}

}  // namespace

void log_request(worker::WorkerState& state, const worker::View& view, std::size_t listener,
                 const layers::Record& record, const Ending& ending,
                 std::chrono::steady_clock::time_point now) {
  const auto* settings = view.access_log;
  const bool tapped = state.tap != nullptr && state.tap->active(now);
  const bool logged =
      settings != nullptr &&
      layers::access_log::logged(*settings, record,
                                 layers::access_log::sampling_draw(ending.request_id, state.rng));
  if (!logged && !tapped) return;
  const auto entry = entry_of(view, listener, record, ending, now);
  if (logged) {
    layers::access_log::append(state.access_lines.bytes(), settings->format, entry);
    state.access_lines.added();
  }
  if (tapped) {
    std::string line;
    layers::access_log::append_json(line, entry);
    line.pop_back();  // the newline
    state.tap->publish(std::move(line));
    state.tap_published->Increment();
  }
}

}  // namespace weft::proxy::listener
