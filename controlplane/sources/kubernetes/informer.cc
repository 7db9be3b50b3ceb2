#include "controlplane/sources/kubernetes/informer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/json_access.h"
#include "controlplane/sources/kubernetes/json_yaml.h"

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

// Observed state, written by controllers and by us, is not what users
// declared; the strict readers of our kinds and routes would take it for an
// unknown field. Pods keep theirs (the Pod IP is in it).
void drop_observed_state(json::object& object, const std::string& kind) {
  if (auto* meta = object.if_contains("metadata"); meta && meta->is_object()) {
    meta->as_object().erase("managedFields");
  }
  if (kind != "Pod" && kind != "Service") object.erase("status");
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
  Entry entry;
  if (!object.is_object()) {
    entry.error = "not a JSON object";
    error("unreadable", entry.error);
    return {Key{}, std::move(entry)};
  }
  drop_observed_state(object.get_object(), spec_.kind);
  const auto& meta = member(object, "metadata");
  Key key{std::string(string_at(meta, "namespace")), std::string(string_at(meta, "name"))};
  auto parsed = model::parse_object(to_yaml(object), spec_.kind);
  if (!parsed) {
    entry.error = parsed.error().message;
  } else if (const auto* value = std::get_if<model::Object>(&*parsed)) {
    entry.object = std::make_shared<const model::Object>(*value);
  } else {
    entry.error = "not a kind the mesh reads";
  }
  if (!entry.object) {
    error("unreadable", fmt::format("{}/{}: {}", key.first, key.second, entry.error));
  }
  return {std::move(key), std::move(entry)};
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
  boost::system::error_code ec;
  auto event = json::parse(line, ec);
  auto type = ec ? std::string() : std::string(string_at(event, "type"));
  if (type.empty() || !member(event, "object").is_object()) {
    error("bad_event", "a watch line that is not an event");
    return true;
  }
  metrics_.events.Add({{"kind", spec_.kind}, {"type", type}}).Increment();
  auto& object = event.get_object()["object"];
  if (type == "ERROR") {
    const auto& code = member(object, "code");
    gone = code.is_int64() && code.get_int64() == 410;
    if (!gone) error("watch_error", json::serialize(object));
    return false;
  }
  if (auto rv = string_at(member(object, "metadata"), "resourceVersion"); !rv.empty()) {
    version = std::string(rv);
  }
  if (type == "BOOKMARK") return true;
  auto [key, entry] = read(std::move(object));
  {
    std::lock_guard lock(mutex_);
    if (type == "DELETED") {
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
