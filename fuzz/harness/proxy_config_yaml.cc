// `mesh-proxy --config FILE`: YAML into the ProxyConfig message (strict:
// unknown fields are errors), then into the snapshot the workers serve.
// Properties: a configuration either translates or says why; one that
// translates translates again the same way (nothing depends on what the
// first pass left behind).
#include "common/yaml_proto.h"
#include "fuzz/harness/fuzz.h"
#include "mesh/v1/config.pb.h"
#include "proxy/config/snapshot.h"

namespace config = weft::proxy::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mesh::v1::ProxyConfig message;
  auto parsed = weft::yaml::parse_message(weft::fuzz::bytes_of(data, size), "fuzz.yaml", message);
  if (!parsed) {
    FUZZ_EXPECT(!parsed.error().message.empty());
    return 0;
  }
  auto snapshot = config::translate(message);
  if (!snapshot) {
    FUZZ_EXPECT(!snapshot.error().message.empty());
    return 0;
  }
  auto again = config::translate(message);
  FUZZ_EXPECT(again.has_value());
  FUZZ_EXPECT((*again)->version == (*snapshot)->version);
  FUZZ_EXPECT(config::check_replaceable(**snapshot, **again).has_value());
  return 0;
}
