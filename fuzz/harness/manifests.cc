// The control plane's manifest reader and translation: a YAML stream of
// Kubernetes objects (what a directory holds, what kubectl applies) parsed
// object by object into a store, compiled into the mesh, and translated
// into every workload's ProxyConfig. Properties: translation is a function
// (the same mesh gives the same configuration twice), and proxies with the
// same translation key get the same configuration, which is what lets the
// control plane share one translation between them.
#include <map>

#include "common/yaml_proto.h"
#include "controlplane/model/objects.h"
#include "controlplane/translate/proxy.h"
#include "fuzz/harness/fuzz.h"

namespace model = weft::cp::model;
namespace translate = weft::cp::translate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto documents = weft::yaml::load_documents(weft::fuzz::bytes_of(data, size), "fuzz.yaml");
  if (!documents) return 0;
  model::Store store;
  for (const auto& document : *documents) {
    auto parsed = model::parse_object(document, "fuzz.yaml");
    if (!parsed) {
      FUZZ_EXPECT(!parsed.error().message.empty());
      continue;
    }
    if (auto* object = std::get_if<model::Object>(&*parsed)) store.put(std::move(*object));
  }
  auto mesh = translate::compile(store);
  auto again = translate::compile(store, mesh.get());
  std::map<std::string, std::string> by_key;
  for (const auto& [key, workload] : mesh->workloads) {
    translate::ProxyIdentity proxy{key.second, key.first};
    auto config = translate::translate(*mesh, proxy);
    auto twice = translate::translate(*again, proxy);
    FUZZ_EXPECT(config.has_value() == twice.has_value());
    if (!config) continue;
    const auto bytes = config->SerializeAsString();
    FUZZ_EXPECT(bytes == twice->SerializeAsString());
    auto shared = translate::translation_key(*mesh, proxy);
    FUZZ_EXPECT(shared.has_value());
    auto [first, inserted] = by_key.emplace(*shared, bytes);
    if (!inserted) FUZZ_EXPECT(first->second == bytes);
  }
  return 0;
}
