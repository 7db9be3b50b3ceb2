#include <fmt/format.h>

#include "controlplane/meshctl/install.h"

namespace weft::meshctl {

std::string render_install(std::string_view version) {
  std::string out = fmt::format(
      "# Weft {} for Kubernetes: CRDs, namespace mesh-system, RBAC and the control plane.\n"
      "# Rendered by `meshctl install --dry-run` from deploy/crds and deploy/controlplane.\n",
      version);
  for (const auto& manifest : install_manifests()) {
    std::string text(manifest.text);
    for (auto at = text.find("WEFT_VERSION"); at != std::string::npos;
         at = text.find("WEFT_VERSION", at)) {
      text.replace(at, 12, version);
    }
    out += fmt::format("---\n# Source: {}\n{}", manifest.path, text);
    if (!out.ends_with('\n')) out.push_back('\n');
  }
  return out;
}

}  // namespace weft::meshctl
