#include "controlplane/sources/kubernetes/informer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/json_access.h"
#include "controlplane/sources/kubernetes/watch_stream.h"

namespace weft::cp::kubernetes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
// The API server's answers are read without at()/as_*(), which throw: a
// malformed answer is an error to count, not the end of the coroutine.
using json_access::member;
using json_access::string_at;

constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr int kPageSize = 500;

prometheus::Family<prometheus::Counter>& family(prometheus::Registry& registry,
                                                const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

const std::vector<KindSpec>& watched_kinds() {
  static const std::vector<KindSpec> kKinds{
      {"Namespace", "/api/v1/namespaces", false},
      {"Node", "/api/v1/nodes", false},
      {"Service", "/api/v1/services", false},
      {"Pod", "/api/v1/pods", false},
      {"EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices", false},
      {"HTTPRoute", "/apis/gateway.networking.k8s.io/v1/httproutes", true},
      {"GRPCRoute", "/apis/gateway.networking.k8s.io/v1/grpcroutes", true},
      {"TrafficPolicy", "/apis/mesh.weft.io/v1alpha1/trafficpolicies", true},
      {"MeshConfig", "/apis/mesh.weft.io/v1alpha1/meshconfigs", true},
      {"AuthorizationPolicy", "/apis/mesh.weft.io/v1alpha1/authorizationpolicies", true},
  };
  return kKinds;
}

InformerMetrics::InformerMetrics(prometheus::Registry& registry)
    : lists(family(registry, "mesh_controlplane_kubernetes_lists_total",
                   "Full lists of a kind (start, and after 410 Gone)")),
      watches(
          family(registry, "mesh_controlplane_kubernetes_watches_total", "Watch streams opened")),
      relists(family(registry, "mesh_controlplane_kubernetes_relists_total",
                     "Lists forced by 410 Gone (the watch fell behind the history)")),
      events(family(registry, "mesh_controlplane_kubernetes_events_total",
                    "Watch events received, by type")),
      errors(family(registry, "mesh_controlplane_kubernetes_errors_total",
                    "Failed requests and unreadable objects, by reason")) {}

Informer::Informer(ApiClient& client, KindSpec spec, InformerMetrics& metrics,
                   std::function<void()> changed)
    : client_(client), spec_(std::move(spec)), metrics_(metrics), changed_(std::move(changed)) {}

bool Informer::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

void Informer::collect(model::Store& store, std::vector<sources::ManifestError>& errors) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, entry] : cache_) {
    if (entry.object) {
      store.put(entry.object);
    } else {
      errors.push_back(
          {"kubernetes", model::ObjectKey{spec_.kind, key.first, key.second}.text(), entry.error});
    }
  }
}

void Informer::error(std::string_view reason, const std::string& message) {
  metrics_.errors.Add({{"kind", spec_.kind}, {"reason", std::string(reason)}}).Increment();
  spdlog::warn("kubernetes {}: {}", spec_.kind, message);
}

asio::awaitable<void> Informer::back_off(std::chrono::seconds hint) {
  backoff_ = std::min(kMaxBackoff, backoff_.count() == 0 ? kFirstBackoff : backoff_ * 2);
  auto wait = std::max<std::chrono::milliseconds>(hint, backoff_);
  // Full jitter over the upper half: replicas and kinds do not retry in step.
  std::uniform_int_distribution<long> jitter(wait.count() / 2, wait.count());
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(std::chrono::milliseconds(jitter(rng_)));
  co_await timer.async_wait(asio::use_awaitable);
}

std::pair<Informer::Key, Informer::Entry> Informer::read(json::value object) {
  auto read = read_object(std::move(object), spec_.kind);
  if (!read.object) {
    error("unreadable", read.name.empty() && read.ns.empty()
                            ? read.error
                            : fmt::format("{}/{}: {}", read.ns, read.name, read.error));
  }
  return {Key{std::move(read.ns), std::move(read.name)},
          Entry{std::move(read.object), std::move(read.error)}};
}

asio::awaitable<Result<std::string>> Informer::list() {
  Cache fresh;
  std::string version, next;
  do {
    auto target = fmt::format("{}?limit={}{}{}", spec_.path, kPageSize,
                              next.empty() ? "" : "&continue=", next);
    auto response = co_await client_.request("GET", target);
    if (!response) co_return tl::unexpected(response.error());
    retry_hint_ = response->retry_after;
    if (response->status == 404 && spec_.custom) {
      // The CRD is not installed (yet): nothing of this kind exists.
      bool was_installed = false;
      {
        std::lock_guard lock(mutex_);
        was_installed = !synced_ || !cache_.empty();
        cache_.clear();
        synced_ = true;
      }
      if (was_installed) {
        spdlog::info("kubernetes {}: not served (CRD not installed); checking again later",
                     spec_.kind);
        changed_();
      }
      co_return fail(ErrorCode::kNotFound, "not installed");
    }
    if (response->status != 200) {
      co_return fail(ErrorCode::kUnavailable, "list {}: HTTP {}: {}", spec_.path, response->status,
                     response->body.substr(0, 300));
    }
    boost::system::error_code ec;
    auto page = json::parse(response->body, ec);
    const auto* items = ec ? nullptr : member(page, "items").if_array();
    version = string_at(member(page, "metadata"), "resourceVersion");
    if (items == nullptr || version.empty()) {
      co_return fail(ErrorCode::kUnavailable, "list {}: not a list", spec_.path);
    }
    next = string_at(member(page, "metadata"), "continue");
    for (auto& item : page.get_object()["items"].get_array()) {
      auto [key, entry] = read(std::move(item));
      fresh[std::move(key)] = std::move(entry);
    }
  } while (!next.empty());
  metrics_.lists.Add({{"kind", spec_.kind}}).Increment();
  {
    std::lock_guard lock(mutex_);
    cache_ = std::move(fresh);  // what vanished while we were not watching is gone now
    synced_ = true;
  }
  changed_();
  co_return version;
}

bool Informer::on_event(std::string_view line, std::string& version, bool& gone) {
  auto event = parse_event(line);
  if (!event) {
    error("bad_event", "a watch line that is not an event");
    return true;
  }
  metrics_.events.Add({{"kind", spec_.kind}, {"type", event->type}}).Increment();
  if (event->type == "ERROR") {
    gone = error_code(*event) == 410;
    if (!gone) error("watch_error", json::serialize(event->object));
    return false;
  }
  if (auto rv = resource_version(*event); !rv.empty()) version = std::string(rv);
  if (event->type == "BOOKMARK") return true;
  const bool deleted = event->type == "DELETED";
  auto [key, entry] = read(std::move(event->object));
  {
    std::lock_guard lock(mutex_);
    if (deleted) {
      cache_.erase(key);
    } else {
      cache_[std::move(key)] = std::move(entry);
    }
  }
  changed_();
  return true;
}

asio::awaitable<Result<std::string>> Informer::watch(std::string version) {
  // client-go's choice: a random 5-10 minutes, so streams do not all end at once.
  std::uniform_int_distribution<int> seconds(300, 600);
  auto timeout = seconds(rng_);
  auto target =
      fmt::format("{}?watch=1&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
                  spec_.path, timeout, version);
  metrics_.watches.Add({{"kind", spec_.kind}}).Increment();
  bool gone = false;
  auto response = co_await client_.stream(
      target, [&](std::string_view line) { return on_event(line, version, gone); },
      std::chrono::seconds(timeout + 60));
  if (!response) co_return tl::unexpected(response.error());
  retry_hint_ = response->retry_after;
  if (response->status == 410) gone = true;
  if (gone) co_return std::string();
  if (response->status != 200) {
    co_return fail(ErrorCode::kUnavailable, "watch {}: HTTP {}", spec_.path, response->status);
  }
  backoff_ = std::chrono::milliseconds(0);  // a watch that ran cleanly resets the backoff
  co_return version;
}

asio::awaitable<void> Informer::run() {
  std::string version;
  for (;;) {
    if (version.empty()) {
      auto listed = co_await list();
      if (!listed) {
        if (listed.error().code != ErrorCode::kNotFound) error("list", listed.error().message);
        co_await back_off(retry_hint_);
        continue;
      }
      version = *listed;
    }
    auto resumed = co_await watch(version);
    if (!resumed) {
      error("watch", resumed.error().message);
      co_await back_off(retry_hint_);
      continue;  // resume from the last version seen
    }
    if (resumed->empty()) metrics_.relists.Add({{"kind", spec_.kind}}).Increment();
    version = *resumed;
  }
}

}  // namespace weft::cp::kubernetes
