#include "proxy/identity/identity.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "proxy/identity/renewal.h"

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // see discovery/client.cc

namespace weft::proxy::identity {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

double seconds_since_epoch(SystemClock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

std::string utc(SystemClock::time_point t) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(t));
}

// What the mesh's peers speak to each other over mutual TLS.
const std::vector<std::string> kMeshAlpn{"h2", "http/1.1"};

}  // namespace

Identity::Identity(asio::io_context& io, SignerOptions options, std::chrono::seconds ready_wait,
                   prometheus::Registry& metrics)
    : io_(io),
      options_(std::move(options)),
      ready_by_(std::chrono::steady_clock::now() + ready_wait),
      expiry_(prometheus::BuildGauge()
                  .Name("mesh_identity_certificate_expiry_timestamp_seconds")
                  .Help("When the workload certificate expires (Unix time); 0 before the first")
                  .Register(metrics)
                  .Add({})),
      renewal_(prometheus::BuildGauge()
                   .Name("mesh_identity_certificate_renewal_timestamp_seconds")
                   .Help("When the next certificate request is due (Unix time)")
                   .Register(metrics)
                   .Add({})),
      requests_(prometheus::BuildCounter()
                    .Name("mesh_identity_certificate_requests_total")
                    .Help("Workload certificate requests to the control plane, by result")
                    .Register(metrics)),
      issued_(requests_.Add({{"result", "issued"}})),
      failed_(requests_.Add({{"result", "failed"}})) {}

void Identity::start() { asio::co_spawn(io_, run(), asio::detached); }

bool Identity::ready() {
  if (current()) return true;
  if (std::chrono::steady_clock::now() < ready_by_) return false;
  if (!said_not_ready_) {
    said_not_ready_ = true;
    spdlog::error(
        "no workload certificate yet ({}): ready without one; mutual TLS is refused until it "
        "arrives",
        last_error_.empty() ? "no answer" : last_error_);
  }
  return true;
}

asio::awaitable<Result<void>> Identity::renew() {
  auto request = new_key_and_request();
  if (!request) co_return tl::unexpected(request.error());
  auto answer = co_await sign(io_, options_, request->csr_pem);
  if (!answer) co_return tl::unexpected(answer.error());
  auto credentials = accept(std::move(request->key_pem), *answer, kMeshAlpn);
  if (!credentials) co_return tl::unexpected(credentials.error());
  const bool first = current() == nullptr;
  current_.store(*credentials);
  const auto& c = **credentials;
  spdlog::info("workload certificate {}: {} valid until {}", first ? "issued" : "renewed",
               c.spiffe_id, utc(c.not_after));
  expiry_.Set(seconds_since_epoch(c.not_after));
  co_return Result<void>{};
}

asio::awaitable<void> Identity::run() {
  asio::steady_timer timer(io_);
  for (;;) {
    auto renewed = co_await renew();
    auto now = SystemClock::now();
    if (renewed) {
      issued_.Increment();
      failures_ = 0;
      last_error_.clear();
      auto c = current();
      // From now, not from notBefore: the authority backdates that by
      // minutes for clock skew, which would halve a short life's first half.
      next_renewal_ = renewal_time(now, c->not_after, draw());
    } else {
      failed_.Increment();
      ++failures_;
      last_error_ = renewed.error().message;
      next_renewal_ = now + retry_delay(failures_, draw());
      auto c = current();
      spdlog::warn("workload certificate request failed ({} in a row): {}{}", failures_,
                   last_error_,
                   c ? fmt::format("; the current one expires {}", utc(c->not_after))
                     : std::string("; none yet"));
    }
    renewal_.Set(seconds_since_epoch(next_renewal_));
    timer.expires_after(std::max(next_renewal_ - now, SystemClock::duration::zero()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::string Identity::status_json() const {
  json::object out;
  auto c = current();
  out["spiffe_id"] = c ? c->spiffe_id : "";
  if (c) {
    out["not_before"] = utc(c->not_before);
    out["not_after"] = utc(c->not_after);
    out["expires_in_seconds"] =
        std::chrono::duration_cast<std::chrono::seconds>(c->not_after - SystemClock::now()).count();
    out["chain_pem"] = c->chain_pem;
    out["trust_bundle_pem"] = c->trust_bundle_pem;
  }
  if (next_renewal_ != SystemClock::time_point{}) out["next_renewal"] = utc(next_renewal_);
  out["failures_in_a_row"] = failures_;
  out["last_error"] = last_error_;
  out["control_plane"] = options_.host + ":" + options_.port;
  return json::serialize(out) + "\n";
}

}  // namespace weft::proxy::identity
