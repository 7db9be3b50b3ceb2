// The one question mesh-injector asks the API server.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "common/json_access.h"
#include "controlplane/sources/kubernetes/client.h"
#include "injector/webhook/sidecar_support.h"

namespace weft::injector::webhook {

bool cluster_has_native_sidecars(const std::string& kubeconfig) {
  namespace kube = cp::kubernetes;
  auto assume = [](const std::string& why) {
    spdlog::warn("cannot ask the API server for its version ({}); assuming native sidecars", why);
    return true;
  };
  auto config = kube::cluster_config(kubeconfig, kube::kServiceAccountDir);
  if (!config) return assume(config.error().message);
  auto client = kube::ApiClient::create(*config);
  if (!client) return assume(client.error().message);
  boost::asio::io_context io;
  auto answer =
      boost::asio::co_spawn(io, (*client)->request("GET", "/version"), boost::asio::use_future);
  io.run();
  auto response = answer.get();
  if (!response) return assume(response.error().message);
  boost::system::error_code ec;
  auto version = boost::json::parse(response->body, ec);
  const auto* object = ec ? nullptr : version.if_object();
  const auto* major = json_access::find(object, "major");
  const auto* minor = json_access::find(object, "minor");
  if (major == nullptr || !major->is_string() || minor == nullptr || !minor->is_string()) {
    return assume("/version answered " + std::to_string(response->status));
  }
  bool native =
      supports_native_sidecars(std::string(major->get_string()), std::string(minor->get_string()));
  spdlog::info("Kubernetes {}.{}: {} sidecars", major->get_string().c_str(),
               minor->get_string().c_str(), native ? "native" : "classic");
  return native;
}

}  // namespace weft::injector::webhook
