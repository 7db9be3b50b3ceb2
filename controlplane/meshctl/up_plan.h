// `meshctl up`'s plan, without processes: which workloads to run from the
// Deployments in a manifest directory, the local ports each one and its
// sidecar get, and the Pods and EndpointSlices that tell the control plane
// about them (what the Kubernetes scheduler and endpoint controller would
// write in a cluster).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "controlplane/model/objects.h"

namespace weft::meshctl {

struct LocalWorkload {
  std::string name;  // Pod name: <deployment>-<replica>
  std::string ns;
  std::vector<std::string> command;  // with $(VAR) expanded
  std::map<std::string, std::string> env;
  // Declared container port -> the port the application listens on here.
  std::map<std::uint32_t, std::uint32_t> app_ports;
  std::uint32_t outbound = 0, admin = 0, metrics = 0;
  std::map<std::uint32_t, std::uint32_t> inbound;  // app port -> sidecar port
};

struct UpPlan {
  std::vector<LocalWorkload> workloads;
  std::string manifests;  // generated Pods and EndpointSlices (YAML stream)
};

using PortAllocator = std::function<std::uint32_t()>;

// Errors name the Deployment at fault (no containers, no command, ...).
Result<UpPlan> plan_up(const cp::model::Store& store, const PortAllocator& next_port);

// Kubernetes' $(VAR) expansion in command and args: $(NAME) becomes the
// variable's value when defined (else stays as written), $$ a literal $.
std::string expand(std::string_view text, const std::map<std::string, std::string>& env);

}  // namespace weft::meshctl
