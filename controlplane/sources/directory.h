// The directory source: Kubernetes-style YAML manifests in one or more
// directories (recursively; *.yaml and *.yml, several documents per file).
// A file or object that fails to parse is reported with file, object and
// field, and the last good version of what it held is kept, so a typo
// never takes configuration away from running proxies.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/model/objects.h"

namespace weft::cp::sources {

struct ManifestError {
  std::string file;
  std::string object;  // "HTTPRoute default/reviews", or empty if unknown
  std::string message;
};

struct DirectorySnapshot {
  std::shared_ptr<const model::Store> store;
  std::vector<ManifestError> errors;
  // Documents of kinds the mesh does not read ("v1 ConfigMap in a.yaml").
  std::vector<std::string> ignored;
};

class DirectorySource {
 public:
  explicit DirectorySource(std::vector<std::filesystem::path> roots);

  // Rereads every manifest file and merges them into a new store.
  DirectorySnapshot load();

  const std::vector<std::filesystem::path>& roots() const { return roots_; }

 private:
  using Objects = std::map<model::ObjectKey, model::Object>;

  Objects load_file(const std::string& file, DirectorySnapshot& out);
  std::vector<std::string> manifest_files(std::vector<ManifestError>& errors) const;

  std::vector<std::filesystem::path> roots_;
  std::map<std::string, Objects> last_good_;  // per file
};

}  // namespace weft::cp::sources
