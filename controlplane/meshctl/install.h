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

// One YAML stream of every manifest, images tagged `version`.
std::string render_install(std::string_view version);

struct InstallOptions {
  bool dry_run = false;
  std::string kubeconfig;  // passed to kubectl when set
};

int install(const InstallOptions& options);
int uninstall(const InstallOptions& options);

}  // namespace weft::meshctl
