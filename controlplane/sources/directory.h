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
#include "controlplane/sources/snapshot.h"

namespace weft::cp::sources {

class DirectorySource {
 public:
  explicit DirectorySource(std::vector<std::filesystem::path> roots);

  // Rereads every manifest file and merges them into a new store.
  Snapshot load();

  const std::vector<std::filesystem::path>& roots() const { return roots_; }
  // Files parsed so far (unchanged files are not parsed again).
  std::size_t files_parsed() const { return files_parsed_; }

 private:
  using Objects = std::map<model::ObjectKey, std::shared_ptr<const model::Object>>;

  // What one file gave at its last read, and a hash of its content then: an
  // unchanged file is read but not parsed again, and its objects are shared
  // with the new store, so a change to one route neither re-parses nor
  // copies 10,000 Pods.
  struct FileState {
    std::string signature;
    Objects objects;                                    // the last good version of each
    std::map<model::ObjectKey, std::string> locations;  // "file:line" of each
    std::vector<ManifestError> errors;
    std::vector<std::string> ignored;
  };
  using FileStatePtr = std::shared_ptr<const FileState>;

  FileStatePtr load_file(const std::string& file, const FileStatePtr& previous);
  std::vector<std::string> manifest_files(std::vector<ManifestError>& errors) const;

  std::vector<std::filesystem::path> roots_;
  std::map<std::string, FileStatePtr> files_;
  std::size_t files_parsed_ = 0;
};

}  // namespace weft::cp::sources
