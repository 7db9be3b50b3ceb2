// The status the control plane writes back on what users applied, as
// Kubernetes conventions want it: `status.conditions` on our CRDs, and on an
// HTTPRoute a `status.parents` entry per Service parent with our controller
// name. Pure: from the compiled mesh's conditions to merge patches, only
// for objects whose status changed since the last write, keeping each
// condition's lastTransitionTime while its status stays the same.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/model/objects.h"
#include "controlplane/translate/mesh.h"

namespace weft::cp::status {

inline constexpr std::string_view kControllerName = "mesh.weft.io/controlplane";

struct StatusPatch {
  std::string object;  // "HTTPRoute default/reviews"
  std::string path;    // .../status, for a JSON merge patch
  std::string body;    // {"status": {...}}
};

// What was last written, per object: its conditions' status and transition
// time by type, and the status body (to skip unchanged writes).
struct WrittenStatus {
  std::map<std::string, std::pair<std::string, std::string>> conditions;  // type -> status, time
  std::string body;
};
using WrittenState = std::map<std::string, WrittenStatus>;

// `now` is an RFC 3339 time. Updates `written` with what it returns.
std::vector<StatusPatch> status_patches(const translate::Mesh& mesh, const model::Store& store,
                                        std::string_view now, WrittenState& written);

}  // namespace weft::cp::status
