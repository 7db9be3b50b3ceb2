#include "controlplane/sources/kubernetes/status_writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/rfc3339.h"

// GCC 12 reports a false -Wmismatched-new-delete on Asio's coroutine
// frames (its recycling operator new/delete pair) in some functions.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace weft::cp::kubernetes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

}  // namespace

StatusWriter::StatusWriter(asio::io_context& io, ApiClient& client, LeaseOptions lease,
                           prometheus::Registry& metrics)
    : io_(io),
      client_(client),
      lease_(std::move(lease)),
      leader_gauge_(prometheus::BuildGauge()
                        .Name("mesh_controlplane_leader")
                        .Help("1 while this replica holds the Lease and writes status")
                        .Register(metrics)
                        .Add({})),
      writes_(prometheus::BuildCounter()
                  .Name("mesh_controlplane_status_writes_total")
                  .Help("Status updates written to routes and policies")
                  .Register(metrics)
                  .Add({})),
      write_errors_(prometheus::BuildCounter()
                        .Name("mesh_controlplane_status_write_errors_total")
                        .Help("Status updates that failed (retried on the next change)")
                        .Register(metrics)
                        .Add({})) {}

void StatusWriter::start() { asio::co_spawn(io_, elect(), asio::detached); }

void StatusWriter::publish(std::shared_ptr<const translate::Mesh> mesh,
                           std::shared_ptr<const model::Store> store) {
  asio::post(io_, [this, mesh = std::move(mesh), store = std::move(store)]() mutable {
    mesh_ = std::move(mesh);
    store_ = std::move(store);
    if (leader_) asio::co_spawn(io_, write(), asio::detached);
  });
}

asio::awaitable<bool> StatusWriter::try_acquire_or_renew() {
  auto path =
      fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}", lease_.ns, lease_.name);
  auto now = rfc3339_micro(SystemClock::now());
  auto got = co_await client_.request("GET", path);
  if (!got) {
    spdlog::debug("lease {}/{}: {}", lease_.ns, lease_.name, got.error().message);
    co_return false;
  }
  json::object lease;
  if (got->status == 404) {
    lease = {{"apiVersion", "coordination.k8s.io/v1"},
             {"kind", "Lease"},
             {"metadata", {{"name", lease_.name}, {"namespace", lease_.ns}}},
             {"spec", json::object{}}};
  } else if (got->status == 200) {
    boost::system::error_code ec;
    auto value = json::parse(got->body, ec);
    if (ec || !value.is_object()) co_return false;
    lease = value.as_object();
  } else {
    co_return false;
  }
  auto& spec = lease["spec"].as_object();
  auto holder = spec.contains("holderIdentity")
                    ? json::value_to<std::string>(spec["holderIdentity"])
                    : std::string();
  if (holder != lease_.identity && !holder.empty()) {
    auto renewed = spec.contains("renewTime")
                       ? parse_rfc3339(json::value_to<std::string>(spec["renewTime"]))
                       : SystemClock::time_point{};
    auto duration = spec.contains("leaseDurationSeconds")
                        ? std::chrono::seconds(spec["leaseDurationSeconds"].to_number<int>())
                        : lease_.duration;
    if (SystemClock::now() < renewed + duration) co_return false;  // held, and alive
  }
  if (holder != lease_.identity) {
    spec["acquireTime"] = now;
    auto transitions =
        spec.contains("leaseTransitions") ? spec["leaseTransitions"].to_number<int>() : 0;
    spec["leaseTransitions"] = holder.empty() ? transitions : transitions + 1;
  }
  spec["holderIdentity"] = lease_.identity;
  spec["leaseDurationSeconds"] = lease_.duration.count();
  spec["renewTime"] = now;
  // The resourceVersion read above makes this a compare-and-swap: a replica
  // that lost the race gets 409 and stays a follower.
  auto body = json::serialize(lease);
  // (Two statements, not a conditional expression: GCC 12 destroys the
  // temporaries of a co_await inside ?: twice.)
  Result<Response> written = fail(ErrorCode::kInternal, "not sent");
  if (got->status == 404) {
    auto create = fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases", lease_.ns);
    written = co_await client_.request("POST", create, body, "application/json");
  } else {
    written = co_await client_.request("PUT", path, body, "application/json");
  }
  if (written && (written->status == 200 || written->status == 201)) co_return true;
  spdlog::debug("lease {}/{}: not written: {}", lease_.ns, lease_.name,
                written ? fmt::format("HTTP {} {}", written->status, written->body)
                        : written.error().message);
  co_return false;
}

asio::awaitable<void> StatusWriter::elect() {
  asio::steady_timer timer(io_);
  for (;;) {
    bool leading = false;
    try {
      leading = co_await try_acquire_or_renew();
    } catch (const std::exception& e) {  // a Lease that is not the shape we wrote
      spdlog::warn("lease {}/{}: {}", lease_.ns, lease_.name, e.what());
    }
    if (leading != leader_) {
      leader_ = leading;
      leader_gauge_.Set(leading ? 1 : 0);
      spdlog::info("lease {}/{}: {} ({})", lease_.ns, lease_.name,
                   leading ? "acquired, writing status" : "lost, not writing status",
                   lease_.identity);
      if (leading) {
        written_.clear();  // write everything once: the previous leader may have been behind
        asio::co_spawn(io_, write(), asio::detached);
      }
    }
    timer.expires_after(lease_.renew_every);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> StatusWriter::write() {
  if (writing_) {  // one writer at a time; it goes again with the newest mesh
    again_ = true;
    co_return;
  }
  writing_ = true;
  do {
    again_ = false;
    if (!mesh_ || !store_ || !leader_) break;
    auto mesh = mesh_;
    auto store = store_;
    for (const auto& patch :
         status::status_patches(*mesh, *store, rfc3339(SystemClock::now()), written_)) {
      auto result =
          co_await client_.request("PATCH", patch.path, patch.body, "application/merge-patch+json");
      if (result && result->status == 200) {
        writes_.Increment();
        continue;
      }
      write_errors_.Increment();
      written_.erase(patch.object);  // written again next time
      spdlog::warn("status of {}: {}", patch.object,
                   result ? fmt::format("HTTP {}", result->status) : result.error().message);
    }
  } while (again_);
  writing_ = false;
}

}  // namespace weft::cp::kubernetes
