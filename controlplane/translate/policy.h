// TrafficPolicy → cluster and route settings.
//
// A policy applies to the ports of its target Service: their clusters
// (connect timeout, pool) and their routes (a request timeout for routes
// without their own). A backend Service reached through the routes of a
// Service with a policy, and without a policy of its own, inherits that
// policy's cluster settings: a policy on `reviews` covers `reviews-v1` and
// `reviews-v2` when the `reviews` HTTPRoute splits to them, as an Istio
// DestinationRule on a host covers its subsets. Its own policy wins; of two
// parents with policies, the first by namespace and name is used, and the
// other's condition says so. Each cluster names the policy it carries
// (mesh.v1.Cluster.policy, shown by `meshctl proxy-config`), and each
// policy's Accepted condition lists the clusters it reached.
#pragma once

#include "controlplane/model/objects.h"
#include "controlplane/translate/mesh.h"

namespace weft::cp::translate {

// After the routes are attached to `mesh`'s Service ports. A rejected
// policy keeps its last accepted version from `previous` (see compile).
void apply_policies(const model::Store& store, const Mesh* previous, Mesh& mesh);

}  // namespace weft::cp::translate
