// Where the mesh's certificate authority comes from (docs/tasks/mtls.md):
// - a state directory (directory mode, `mesh-controlplane --ca-dir`): the
//   root is created there on first start (ca-cert.pem, ca-key.pem with mode
//   0600) and read on every later one, so certificates survive restarts;
//   roots in DIR/previous-roots.pem stay trusted beside it (a rotation's
//   overlap window);
// - an intermediate the user supplies (--ca-cert, --ca-key, --ca-root):
//   leaves chain through it to the user's own root.
#pragma once

#include <filesystem>

#include "common/result.h"
#include "controlplane/ca/workload_certificates.h"

namespace weft::cp::ca {

inline constexpr char kRootCertFile[] = "ca-cert.pem";
inline constexpr char kRootKeyFile[] = "ca-key.pem";
inline constexpr char kPreviousRootsFile[] = "previous-roots.pem";

// Reads the root in `dir`, creating the directory and a new root (valid
// ten years) when there is none. A directory with only one of the two
// files is an error, not a reason to make a new root.
Result<SigningAuthority> load_or_create_root(const std::filesystem::path& dir);

// An intermediate and its key, chaining to the roots in `root_file`.
Result<SigningAuthority> load_intermediate(const std::filesystem::path& cert_file,
                                           const std::filesystem::path& key_file,
                                           const std::filesystem::path& root_file);

}  // namespace weft::cp::ca
