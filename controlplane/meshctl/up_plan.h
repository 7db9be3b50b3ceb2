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
  std::map<std::uint32_t, std::uint32_t> inbound;  // app port (local) -> sidecar port
  std::string service_account;                     // the Pod's; "default" when unset
  std::string node;  // the Node it is placed on (up_plan.cc's place); empty without Nodes

  // Same processes: what runs and how (a change restarts the replica).
  bool same_processes(const LocalWorkload& other) const {
    return command == other.command && env == other.env && app_ports == other.app_ports;
  }
};

struct UpPlan {
  std::vector<LocalWorkload> workloads;
  std::string manifests;  // generated Pods and EndpointSlices (YAML stream)
};

using PortAllocator = std::function<std::uint32_t()>;

// Errors name the Deployment at fault (no containers, no command, ...).
// A workload that `previous` already has (by name) keeps its ports, so a
// live re-plan changes only what changed.
Result<UpPlan> plan_up(const cp::model::Store& store, const PortAllocator& next_port,
                       const UpPlan* previous = nullptr);

// Kubernetes' $(VAR) expansion in command and args: $(NAME) becomes the
// variable's value when defined (else stays as written), $$ a literal $.
std::string expand(std::string_view text, const std::map<std::string, std::string>& env);

}  // namespace weft::meshctl
