// What a source (a manifest directory, the Kubernetes API) gives the
// pipeline: a Store, and every object it could not read and why.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/model/objects.h"

namespace weft::cp::sources {

struct ManifestError {
  std::string file;    // the manifest file, or "kubernetes"
  std::string object;  // "HTTPRoute default/reviews", or empty if unknown
  std::string message;
};

struct Snapshot {
  std::shared_ptr<const model::Store> store;
  std::vector<ManifestError> errors;
  // Documents of kinds the mesh does not read ("v1 ConfigMap in a.yaml").
  std::vector<std::string> ignored;
  // Where each object was read ("HTTPRoute default/reviews" -> "route.yaml:3",
  // the line its document starts on), so a translation problem can point at
  // the manifest as a parse error does. Empty for the Kubernetes source.
  std::map<std::string, std::string> locations;
};

}  // namespace weft::cp::sources
