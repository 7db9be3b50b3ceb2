#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "controlplane/meshctl/install.h"

namespace weft::meshctl {
namespace {

constexpr std::string_view kDefaultHub = "ghcr.io/weft-mesh";
constexpr std::string_view kDefaultNamespace = "mesh-system";
// The control plane Deployment's replica count in deploy/ (one line).
constexpr std::string_view kReplicasLine = "\n  replicas: 2\n";

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// RFC 1123 label: what Kubernetes accepts as a namespace name.
bool dns_label(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) != 0 ||
           std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

}  // namespace

std::string check_settings(const InstallSettings& settings) {
  if (!dns_label(settings.ns)) {
    return fmt::format("namespace '{}' is not a DNS label (lower case letters, digits, '-')",
                       settings.ns);
  }
  if (settings.replicas < 1 || settings.replicas > 10) {
    return fmt::format("replicas {} is not in 1..10", settings.replicas);
  }
  if (settings.hub.empty() || settings.hub.ends_with('/')) {
    return fmt::format("hub '{}' must be a registry path without a trailing /", settings.hub);
  }
  if (settings.version.empty()) return "the image tag is empty";
  return "";
}

std::string render_install(const InstallSettings& settings) {
  std::string out = fmt::format(
      "# Weft {} for Kubernetes: CRDs, namespace {}, RBAC and the control plane.\n"
      "# Rendered by `meshctl install --dry-run` from deploy/crds and deploy/controlplane.\n",
      settings.version, settings.ns);
  for (const auto& manifest : install_manifests()) {
    std::string text(manifest.text);
    replace_all(text, "WEFT_VERSION", settings.version);
    replace_all(text, fmt::format("{}/", kDefaultHub), settings.hub + "/");
    // deploy/ names the namespace nowhere else than as the namespace.
    replace_all(text, kDefaultNamespace, settings.ns);
    replace_all(text, kReplicasLine, fmt::format("\n  replicas: {}\n", settings.replicas));
    out += fmt::format("---\n# Source: {}\n{}", manifest.path, text);
    if (!out.ends_with('\n')) out.push_back('\n');
  }
  return out;
}

}  // namespace weft::meshctl
