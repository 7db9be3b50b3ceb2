// Content versions and deltas of mesh.v1.ProxyConfig, shared by the control
// plane (which computes them) and the proxy (which applies and checks
// them). Pure functions.
#pragma once

#include <string>

#include "common/result.h"
#include "mesh/v1/discovery.pb.h"

namespace weft::config {

// Sorts listeners, route tables and clusters by name. Their order carries
// no meaning, so both ends keep configurations in this form and a content
// version does not depend on how a configuration was assembled.
void canonicalize(mesh::v1::ProxyConfig& config);

// A hash of the canonical configuration's deterministic serialization (16
// hex digits), ignoring its version field. A change detector, not a MAC.
std::string content_version(const mesh::v1::ProxyConfig& config);

// What turns `from` into `to`: changed or new listeners, route tables and
// clusters by name, removed names, admin, drain, lifecycle and locality
// when they differ. Every field of ProxyConfig but version has its place in
// ConfigDelta (a test holds them to it).
mesh::v1::ConfigDelta make_delta(const mesh::v1::ProxyConfig& from,
                                 const mesh::v1::ProxyConfig& to);

// Applies `delta` to `base`; the result is canonical. Errors on a removal of a name `base` lacks
// (the sender's base is not ours).
Result<mesh::v1::ProxyConfig> apply_delta(const mesh::v1::ProxyConfig& base,
                                          const mesh::v1::ConfigDelta& delta);

}  // namespace weft::config
