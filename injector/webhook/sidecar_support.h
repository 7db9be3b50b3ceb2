// Whether the cluster runs native sidecars (restartable init containers,
// on by default since Kubernetes 1.29), asked once at start-up.
#pragma once

#include <string>

namespace weft::injector::webhook {

// Asks the API server's /version (with `kubeconfig`, else in-cluster
// configuration). When the cluster cannot be asked, native sidecars are
// assumed (the supported range starts at 1.29) and a warning says so.
bool cluster_has_native_sidecars(const std::string& kubeconfig);

// "1", "29+" (as some providers report it) -> whether that is 1.29 or later.
bool supports_native_sidecars(const std::string& major, const std::string& minor);

}  // namespace weft::injector::webhook
