// Route timeouts from three places, the most specific winning field by
// field: the HTTPRoute rule's own, then the TrafficPolicy of the route's
// Service, then the MeshConfig. Each route records where each came from
// (mesh.v1.Route.timeout_origins) for `meshctl proxy-config routes`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "controlplane/translate/mesh.h"
#include "mesh/v1/config.pb.h"
#include "mesh/v1alpha1/policy.pb.h"

namespace weft::cp::translate {

// A TrafficPolicy's or MeshConfig's `timeouts`, parsed. A zero duration is
// kept: it sets "none" for the routes it covers, as Gateway API's "0s".
struct TimeoutDefaults {
  std::optional<std::chrono::nanoseconds> request, per_try, idle;
  std::string origin;  // "policy default/reviews", "mesh"

  bool empty() const { return !request && !per_try && !idle; }
  // Sets each timeout `route` does not set itself.
  void fill(mesh::v1::Route& route) const;
};

// Rejected with the field and text that is not a duration.
tl::expected<TimeoutDefaults, Rejected> parse_timeouts(const mesh::v1alpha1::TimeoutPolicy& policy,
                                                       std::string origin);

}  // namespace weft::cp::translate
