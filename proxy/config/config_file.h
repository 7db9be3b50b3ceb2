// Reading `--config FILE`. The YAML is parsed by a child process, this same
// binary run as `mesh-proxy --compile-config FILE`, which hands back the
// configuration as binary protobuf. The YAML reader (yaml-cpp, protobuf
// descriptors and reflection) is about 1.5 MiB of code that the proxy needs for
// a few milliseconds at startup and on SIGHUP; run in the child, none of it
// becomes resident in the long-running sidecar (issue #3: idle RSS <= 8 MiB),
// and a reader bug hit by a reload cannot take down a proxy serving traffic.
#pragma once

#include <string>

#include "common/result.h"
#include "mesh/v1/config.pb.h"

namespace weft::proxy::config {

// What `mesh-proxy --compile-config FILE` does: exit 0 with the binary
// ProxyConfig on stdout, or 1 with the error (file:line:column) on stderr.
int compile_config_main(const std::string& path);

// This executable's path as /proc/self/exe names it. Tools that run the
// proxy under their own binary (valgrind) report the proxy's path there, so
// the child is the proxy itself rather than the tool.
std::string self_executable();

// Reads FILE through a child running `program --compile-config FILE`;
// `program` is this executable unless a test says otherwise.
Result<mesh::v1::ProxyConfig> read_config_file(const std::string& path,
                                               const std::string& program = self_executable());

}  // namespace weft::proxy::config
