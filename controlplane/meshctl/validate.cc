// meshctl validate: the control plane's own reading of manifests, offline.
#include <fmt/format.h>

#include <iostream>

#include "controlplane/meshctl/commands.h"
#include "controlplane/sources/directory.h"
#include "controlplane/translate/mesh.h"

namespace weft::meshctl {

int validate(const std::vector<std::string>& paths) {
  cp::sources::DirectorySource source({paths.begin(), paths.end()});
  auto snapshot = source.load();
  int problems = 0;
  for (const auto& e : snapshot.errors) {
    std::cout << "error: " << e.message << (e.object.empty() ? "" : " [" + e.object + "]") << "\n";
    ++problems;
  }
  for (const auto& ignored : snapshot.ignored) std::cout << "ignored: " << ignored << "\n";
  auto mesh = cp::translate::compile(*snapshot.store);
  for (const auto& c : mesh->conditions) {
    if (c.ok) {
      if (!c.message.empty()) std::cout << "note: " << c.object << ": " << c.message << "\n";
      continue;
    }
    std::cout << fmt::format("error: {}: {}=False {}: {}\n", c.object, c.type, c.reason, c.message);
    ++problems;
  }
  std::cout << fmt::format("{} objects, {} service ports, {} problem(s)\n", snapshot.store->size(),
                           mesh->service_ports.size(), problems);
  return problems == 0 ? 0 : 1;
}

}  // namespace weft::meshctl
