// meshctl install / uninstall: the CRDs and the control plane of deploy/
// (embedded in meshctl at build time), rendered for one version and applied
// with kubectl. deploy/weft.yaml is the same rendering, checked in, so
// `kubectl apply -f deploy/` installs exactly what `meshctl install` does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace weft::meshctl {

struct Manifest {
  std::string_view path;  // e.g. "deploy/crds/mesh.weft.io_trafficpolicies.yaml"
  std::string_view text;
};

// Generated from deploy/crds/*.yaml and deploy/controlplane/*.yaml.
const std::vector<Manifest>& install_manifests();

// What an install may change from deploy/'s defaults.
struct InstallSettings {
  std::string version = WEFT_VERSION;     // image tag
  std::string ns = "mesh-system";         // the control plane's namespace
  std::string hub = "ghcr.io/weft-mesh";  // image registry and path
  int replicas = 2;                       // control plane replicas
};

// Why `settings` cannot be rendered (a namespace that is not a DNS label,
// replicas out of 1..10, an empty hub), or empty.
std::string check_settings(const InstallSettings& settings);

// One YAML stream of every manifest for `settings`.
std::string render_install(const InstallSettings& settings);

struct InstallOptions {
  bool dry_run = false;
  std::string kubeconfig;  // passed to kubectl when set
  InstallSettings settings;
};

int install(const InstallOptions& options);
int uninstall(const InstallOptions& options);

}  // namespace weft::meshctl
