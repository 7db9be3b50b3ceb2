// AuthorizationPolicy → what each workload's sidecar enforces
// (mesh.v1.AuthorizationPolicy on its ProxyConfig, docs/tasks/authorization.md).
//
// A Service target covers the Pods its selector picks, on the container
// ports its ports lead to (with targetRef.port, that one Service port's);
// a Namespace target covers every workload of the policy's own namespace
// on every port. The callers a policy names become SPIFFE ID patterns
// under the mesh's trust domain: service account NS/SA is
// spiffe://TD/ns/NS/sa/SA, namespace NS is spiffe://TD/ns/NS/sa/*.
#pragma once

#include <string_view>

#include "controlplane/model/objects.h"
#include "controlplane/translate/mesh.h"

namespace weft::cp::translate {

// The policy's action and rules as a sidecar reads them (no ports yet: they
// depend on each target Pod), or the first thing wrong with it, naming the
// field.
tl::expected<mesh::v1::AuthorizationPolicy, Rejected> compile_authorization(
    const mesh::v1alpha1::AuthorizationPolicy& policy, std::string_view trust_domain);

// After the MeshConfig (its trust domain): fills each workload's
// `authorization` and every policy's Accepted condition. A rejected policy
// keeps its last accepted version from `previous`.
void apply_authorization(const model::Store& store, const Mesh* previous, Mesh& mesh);

}  // namespace weft::cp::translate
